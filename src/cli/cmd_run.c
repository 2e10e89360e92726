/* `memscope run [-o TRACE] [--unwind=MODE] [--depth=N] -- PROGRAM ARGS...`: checks that
 * PROGRAM can be traced, runs it with libmemscope preloaded, keeps its stdin, stdout and exit
 * status, and prints a short summary and every trace written to stderr. */
#define _GNU_SOURCE
#include "analysis/trace_analysis.h"
#include "cli.h"
#include "common/trace_format.h"
#include "report/number_format.h"

#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define USAGE MS_USAGE_RUN

/* The kernel reads this much of a file to choose how to run it (BINPRM_BUF_SIZE): enough for
 * the ELF header and for the #! line it honours. */
#define HEAD_SIZE 256
/* execve follows at most this many #! lines before it fails with ELOOP (fs/exec.c). */
#define MAX_SCRIPT_DEPTH 5
/* The shell execvp gives a file the kernel cannot execute (glibc's _PATH_BSHELL). */
#define SHELL_PATH "/bin/sh"

/* Finds PROGRAM as execvp would; returns 0 with the path, or an errno value. */
static int resolve_program(const char *prog, char *out, size_t cap)
{
    if (strchr(prog, '/')) {
        snprintf(out, cap, "%s", prog);
        return access(out, F_OK) == 0 ? (access(out, X_OK) == 0 ? 0 : EACCES) : ENOENT;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int found_noexec = 0;
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(out, cap, "%.*s/%s", (int)len, len ? p : ".", prog);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(out, X_OK) == 0)
                return 0;
            found_noexec = 1;
        }
        p += len + (colon ? 1 : 0);
    }
    return found_noexec ? EACCES : ENOENT;
}

/* Reads the first HEAD_SIZE bytes of fd into head, zero-padded as the kernel pads a shorter
 * file; returns how many the file has (0 if it cannot be read). */
static size_t read_head(int fd, unsigned char head[HEAD_SIZE])
{
    memset(head, 0, HEAD_SIZE);
    ssize_t n = pread(fd, head, HEAD_SIZE, 0);
    return n > 0 ? (size_t)n : 0;
}

/* The interpreter a #! line names, read as the kernel's binfmt_script reads it: the first word
 * after "#!", ended by a space, tab, NUL or the end of the line. False when the kernel refuses
 * the line (no name, or a name that the HEAD_SIZE bytes cut off): execve then fails with
 * ENOEXEC and the file goes to the shell like any other text. */
static bool script_interpreter(const unsigned char *head, char *out, size_t cap)
{
    const char *buf = (const char *)head, *end = memchr(buf, '\n', HEAD_SIZE);
    bool whole_line = end != NULL;
    if (!end)
        end = buf + HEAD_SIZE - 1;
    const char *name = buf + 2;
    while (name < end && (*name == ' ' || *name == '\t'))
        name++;
    const char *stop = name;
    while (stop < end && *stop != ' ' && *stop != '\t' && *stop)
        stop++;
    if (stop == name || (!whole_line && stop == end) || (size_t)(stop - name) >= cap)
        return false;
    memcpy(out, name, (size_t)(stop - name));
    out[stop - name] = 0;
    return true;
}

/* Whether a file the kernel cannot execute is a script for the shell, as execvp assumes: bash's
 * test (no NUL byte before the first newline), with the control characters that text does not
 * hold counted as NULs too, so that random bytes are refused instead of fed to /bin/sh. */
static bool is_text(const unsigned char *head, size_t n)
{
    for (size_t i = 0; i < n && head[i] != '\n'; i++) {
        unsigned char c = head[i];
        if (c == 0 || c == 0x7f || (c < 0x20 && !strchr("\a\b\t\v\f\r\033", c)))
            return false;
    }
    return true;
}

/* A name for the machine an ELF file is built for, in the message that refuses it. */
static const char *machine_name(unsigned machine, bool elf32)
{
    static const struct {
        unsigned machine;
        const char *name32, *name64;
    } names[] = {
        {EM_386, "32-bit x86", "x86"},
        {EM_X86_64, "the x32 ABI", "x86-64"},
        {EM_ARM, "32-bit ARM", "ARM"},
        {EM_AARCH64, "32-bit AArch64", "AArch64"},
        {EM_RISCV, "32-bit RISC-V", "64-bit RISC-V"},
        {EM_PPC, "32-bit PowerPC", "PowerPC"},
        {EM_PPC64, "PowerPC64", "PowerPC64"},
        {EM_S390, "31-bit s390", "s390x"},
        {EM_MIPS, "32-bit MIPS", "64-bit MIPS"},
        {EM_LOONGARCH, "32-bit LoongArch", "LoongArch"},
        {EM_SPARCV9, "SPARC64", "SPARC64"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].machine == machine)
            return elf32 ? names[i].name32 : names[i].name64;
    return elf32 ? "an unknown 32-bit machine" : "an unknown machine";
}

/* Refuses (one line, exit status 2) an ELF file LD_PRELOAD cannot act on: one of another class
 * or machine than libmemscope.so's, which the loader cannot map (the header alone says so), or
 * one without a dynamic loader (no PT_INTERP). Returns 0 for anything else, including files the
 * kernel itself will refuse. */
static int check_elf(const char *who, int fd, const unsigned char *head, size_t n)
{
    if (n < EI_NIDENT + 4)
        return 0;
    bool big = head[EI_DATA] == ELFDATA2MSB, elf32 = head[EI_CLASS] == ELFCLASS32;
    if (!elf32 && head[EI_CLASS] != ELFCLASS64)
        return 0;
    unsigned machine =
        big ? (unsigned)head[18] << 8 | head[19] : (unsigned)head[19] << 8 | head[18];
    if (elf32 || machine != EM_X86_64) {
        ms_cli_error("run",
                     "%s is built for %s (ELF class %d, machine %u): libmemscope.so is 64-bit "
                     "x86-64 only, so the loader cannot preload it; trace an x86-64 build of it",
                     who, machine_name(machine, elf32), elf32 ? 32 : 64, machine);
        return 2;
    }
    Elf64_Ehdr eh;
    if (n < sizeof eh)
        return 0;
    memcpy(&eh, head, sizeof eh);
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum >= 4096 ||
        (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
        return 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
            (ssize_t)sizeof ph)
            return 0;
        if (ph.p_type == PT_INTERP)
            return 0;
    }
    ms_cli_error("run",
                 "%s is statically linked: LD_PRELOAD cannot intercept its allocator; link it "
                 "dynamically to trace it",
                 who);
    return 2;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Whether the file capabilities of fd (its security.capability attribute) make the kernel run
 * it in secure-execution mode for a user other than root (cap_bprm_creds_from_file): they do if
 * their effective bit is set or if they give the process any permitted capability, that is one
 * of the file's permitted set that the bounding set keeps, or one of its inheritable set that
 * the process has inheritable. Under no_new_privs the permitted set cannot grow. */
static bool caps_make_secure(int fd, bool no_new_privs)
{
    unsigned char v[XATTR_CAPS_SZ_3];
    ssize_t n = fgetxattr(fd, "security.capability", v, sizeof v);
    if (n < (ssize_t)XATTR_CAPS_SZ_1)
        return false;
    uint32_t magic = le32(v);
    uint32_t rev = magic & VFS_CAP_REVISION_MASK;
    bool two_words = rev == VFS_CAP_REVISION_2 || rev == VFS_CAP_REVISION_3;
    if (rev != VFS_CAP_REVISION_1 && !two_words)
        return false; /* the kernel refuses to execute it (EINVAL): execve says so */
    if (two_words && n < (ssize_t)XATTR_CAPS_SZ_2)
        return false;
    if (magic & VFS_CAP_FLAGS_EFFECTIVE)
        return true;
    uint64_t fp = le32(v + 4), fi = le32(v + 8);
    if (two_words) {
        fp |= (uint64_t)le32(v + 12) << 32;
        fi |= (uint64_t)le32(v + 16) << 32;
    }
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct cur[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &hdr, cur) != 0)
        return fp || fi; /* cannot tell what the process has: count any as gained */
    uint64_t pi = cur[0].inheritable | (uint64_t)cur[1].inheritable << 32;
    uint64_t pp = cur[0].permitted | (uint64_t)cur[1].permitted << 32;
    uint64_t bset = 0;
    for (int c = 0; c < 64; c++) {
        int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
        if (r < 0)
            break;
        bset |= (uint64_t)(r > 0) << c;
    }
    uint64_t gained = (fp & bset) | (fi & pi);
    return (no_new_privs ? gained & pp : gained) != 0;
}

/* Refuses (one line, exit status 2) an ELF file the kernel would run in secure-execution mode
 * (AT_SECURE), where the dynamic loader ignores LD_PRELOAD: when after execve the effective
 * user or group id differs from the real one (a setuid or setgid bit, which nosuid mounts and
 * no_new_privs cancel, or a memscope that itself runs with other effective ids), or when file
 * capabilities give a user other than root new privileges. A setuid-root file run by root, or a
 * file with capabilities run by root, is traced. */
static int check_secure_exec(const char *who, int fd, const struct stat *st)
{
    struct statvfs vfs;
    bool nosuid = fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_NOSUID);
    bool no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
    bool honoured = !nosuid && !no_new_privs;
    bool setuid = honoured && (st->st_mode & S_ISUID);
    /* A setgid bit without group execute permission marks mandatory locking, not setgid. */
    bool setgid = honoured && (st->st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);
    uid_t euid = setuid ? st->st_uid : geteuid();
    gid_t egid = setgid ? st->st_gid : getegid();
    if (euid != getuid() && setuid) {
        ms_cli_error("run",
                     "%s is setuid (to uid %u): the kernel runs it in secure-execution mode, where "
                     "the dynamic loader ignores LD_PRELOAD; trace a copy without the setuid bit, "
                     "or run memscope as uid %u",
                     who, (unsigned)euid, (unsigned)euid);
        return 2;
    }
    if (egid != getgid() && setgid) {
        ms_cli_error("run",
                     "%s is setgid (to gid %u): the kernel runs it in secure-execution mode, where "
                     "the dynamic loader ignores LD_PRELOAD; trace a copy without the setgid bit, "
                     "or run memscope with gid %u",
                     who, (unsigned)egid, (unsigned)egid);
        return 2;
    }
    if (euid != getuid() || egid != getgid()) {
        ms_cli_error("run",
                     "memscope runs with effective ids (uid %u, gid %u) other than its real ones "
                     "(uid %u, gid %u), so the kernel runs %s in secure-execution mode, where the "
                     "dynamic loader ignores LD_PRELOAD; run memscope with equal real and "
                     "effective ids",
                     (unsigned)geteuid(), (unsigned)getegid(), (unsigned)getuid(),
                     (unsigned)getgid(), who);
        return 2;
    }
    if (getuid() != 0 && !nosuid && caps_make_secure(fd, no_new_privs)) {
        ms_cli_error("run",
                     "%s has file capabilities (its security.capability attribute): for a user "
                     "other than root the kernel runs it in secure-execution mode, where the "
                     "dynamic loader ignores LD_PRELOAD; trace a copy without them (cp does not "
                     "copy them), or run memscope as root",
                     who);
        return 2;
    }
    return 0;
}

/* Refuses, with one line on stderr and the exit status returned, a program that would run
 * untraced: the checks above, applied to the ELF file the kernel runs, which for a script is the
 * interpreter of its #! line (the script's own setuid bit is ignored by the kernel). name, if
 * not NULL, is what the messages call prog. Returns 0 when the program can be traced, and for
 * files of no format known here, which execve judges. */
static int check_program(const char *prog, const char *name)
{
    char path[PATH_MAX], who[2 * PATH_MAX + 32];
    snprintf(path, sizeof path, "%s", prog);
    snprintf(who, sizeof who, "%s", name ? name : prog);
    for (int depth = 0;; depth++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return 0; /* execute-only: the kernel can run it, only memscope cannot look */
        struct stat st;
        unsigned char head[HEAD_SIZE];
        size_t n = fstat(fd, &st) == 0 ? read_head(fd, head) : 0;
        int code = 0;
        if (n >= SELFMAG && !memcmp(head, ELFMAG, SELFMAG)) {
            code = check_elf(who, fd, head, n);
            if (!code)
                code = check_secure_exec(who, fd, &st);
            close(fd);
            return code;
        }
        close(fd);
        char interp[PATH_MAX];
        if (n < 2 || head[0] != '#' || head[1] != '!' ||
            !script_interpreter(head, interp, sizeof interp))
            return 0;
        if (depth == MAX_SCRIPT_DEPTH) {
            ms_cli_error("run",
                         "%s: more than %d nested #! interpreters (the last one is %s): the kernel "
                         "refuses to run it (ELOOP); name a program on the #! line",
                         prog, MAX_SCRIPT_DEPTH, path);
            return 126;
        }
        size_t len = strlen(interp);
        if (stat(interp, &st) != 0) {
            int e = errno;
            if (len && interp[len - 1] == '\r') {
                interp[len - 1] = 0;
                ms_cli_error("run",
                             "%s: its #! line ends with a carriage return (DOS line ends), so "
                             "the interpreter \"%s\\r\" is not found; convert the file with "
                             "dos2unix or sed -i 's/\\r$//'",
                             prog, interp);
            } else if (e == ENOENT || e == ENOTDIR) {
                ms_cli_error("run",
                             "%s: interpreter %s not found (named on its #! line); install it or "
                             "correct the #! line",
                             prog, interp);
            } else {
                ms_cli_error("run", "%s: cannot use its #! interpreter %s: %s", prog, interp,
                             strerror(e));
            }
            return 127;
        }
        if (!S_ISREG(st.st_mode) || access(interp, X_OK) != 0) {
            ms_cli_error("run",
                         "%s: its #! interpreter %s is %s; name an executable program on the #! "
                         "line",
                         prog, interp,
                         S_ISDIR(st.st_mode) ? "a directory" : "not an executable file");
            return 126;
        }
        snprintf(path, sizeof path, "%s", interp);
        snprintf(who, sizeof who, "%s: its interpreter %s", prog, interp);
    }
}

/* In the child: runs PROGRAM as execvp runs a file it found. A file the kernel cannot execute
 * (ENOEXEC: no ELF header, no valid #! line, no binfmt_misc handler) is a script for /bin/sh,
 * which runs as `/bin/sh PROGRAM ARGS...`, traced; one that is not text is refused rather than
 * given to the shell to choke on. Returns the exit status after saying why it failed. */
static int exec_program(const char *prog, char **cmd)
{
    execv(prog, cmd);
    if (errno != ENOEXEC) {
        int e = errno;
        ms_cli_error("run", "cannot execute %s: %s", prog, strerror(e));
        return e == ENOENT ? 127 : 126;
    }
    unsigned char head[HEAD_SIZE];
    int fd = open(prog, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ms_cli_error("run",
                     "%s has no #! line, so it is a script for %s, which cannot read it: %s; "
                     "make it readable (chmod +r)",
                     prog, SHELL_PATH, strerror(e));
        return 126;
    }
    size_t n = read_head(fd, head);
    close(fd);
    if (n >= SELFMAG && !memcmp(head, ELFMAG, SELFMAG)) {
        ms_cli_error("run",
                     "%s: not an executable format: an ELF file but not a program (an object "
                     "file, a core dump, or a damaged file); give memscope a linked program",
                     prog);
        return 126;
    }
    if (!is_text(head, n)) {
        ms_cli_error("run",
                     "%s: not an executable format: not an ELF program, no #! line, and binary "
                     "data rather than text for /bin/sh; give memscope a program or a script",
                     prog);
        return 126;
    }
    char who[PATH_MAX + 64];
    snprintf(who, sizeof who, "%s (which runs %s: it has no #! line)", SHELL_PATH, prog);
    int code = check_program(SHELL_PATH, who);
    if (code)
        return code;
    size_t argc = 0;
    while (cmd[argc])
        argc++;
    char **argv = calloc(argc + 2, sizeof *argv);
    if (!argv) {
        ms_cli_error("run", "out of memory");
        return 126;
    }
    argv[0] = (char *)SHELL_PATH;
    argv[1] = (char *)prog;
    for (size_t i = 1; i < argc; i++)
        argv[i + 1] = cmd[i];
    execv(SHELL_PATH, argv);
    int e = errno;
    ms_cli_error("run", "%s has no #! line, and cannot execute %s to run it: %s", prog, SHELL_PATH,
                 strerror(e));
    return e == ENOENT ? 127 : 126;
}

/* libmemscope.so next to this binary: ../lib (build tree) or ../lib/memscope (installed). */
static int find_library(char *out, size_t cap)
{
    const char *env = getenv("MEMSCOPE_LIBRARY");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = 0;
    const char *candidates[] = {"../lib/libmemscope.so", "../lib/memscope/libmemscope.so"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/%s", self, candidates[i]);
        if (realpath(p, out) && access(out, R_OK) == 0)
            return 0;
    }
    (void)cap;
    return -1;
}

/* A file memscope may have written in this run, known by its inode as well as its name. */
struct trace_file {
    char *path;
    dev_t dev;
    ino_t ino;
};

struct trace_list {
    struct trace_file *v;
    size_t n, cap;
};

/* Appends a copy of path; returns false if out of memory. */
static bool list_add(struct trace_list *l, const char *path, const struct stat *st)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct trace_file *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return false;
    l->v[l->n++] = (struct trace_file){copy, st->st_dev, st->st_ino};
    return true;
}

/* Whether the list holds the file st (under the name path, unless path is NULL). */
static bool list_has(const struct trace_list *l, const char *path, const struct stat *st)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].dev == st->st_dev && l->v[i].ino == st->st_ino &&
            (!path || !strcmp(path, l->v[i].path)))
            return true;
    return false;
}

static void list_free(struct trace_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    *l = (struct trace_list){0};
}

/* Whether name is one the library gives a trace of this run: base itself, or base.<pid> and
 * base.<pid>.<n> (open_trace in src/capture/trace_writer.c). */
static bool is_trace_name(const char *name, const char *base)
{
    size_t len = strlen(base);
    if (strncmp(name, base, len))
        return false;
    const char *p = name + len;
    for (int part = 0; *p && part < 2; part++) {
        if (p[0] != '.' || !isdigit((unsigned char)p[1]))
            return false;
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    }
    return *p == 0;
}

/* Lists the regular files of abs_out's directory that have its trace names; returns false if
 * out of memory (a directory that cannot be read lists nothing). */
static bool list_trace_names(const char *abs_out, struct trace_list *out)
{
    const char *slash = strrchr(abs_out, '/'); /* abs_out is absolute */
    char dir[PATH_MAX + 1];
    int dlen = slash == abs_out ? 1 : (int)(slash - abs_out);
    snprintf(dir, sizeof dir, "%.*s", dlen, abs_out);
    DIR *d = opendir(dir);
    if (!d)
        return true;
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d));) {
        struct stat st;
        if (!is_trace_name(e->d_name, slash + 1) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        char path[PATH_MAX + 256 + 2];
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - abs_out), abs_out, e->d_name);
        ok = list_add(out, path, &st);
    }
    closedir(d);
    return ok;
}

static bool starts_as_trace(const char *path)
{
    char magic[MS_TRACE_MAGIC_LEN];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    bool ok = fd >= 0 && read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              !memcmp(magic, MS_TRACE_MAGIC, sizeof magic);
    if (fd >= 0)
        close(fd);
    return ok;
}

static int by_version(const void *a, const void *b)
{
    return strverscmp(((const struct trace_file *)a)->path, ((const struct trace_file *)b)->path);
}

/* Every trace the run wrote, the program's own first: those the processes listed in the
 * manifest (if there is one), then the files with trace names that were not there before the
 * run (before) and begin as a trace, for a process that could not append to the manifest (out
 * of file descriptors, or the program deleted the manifest). A listed trace that is gone is
 * reported. Returns false if out of memory. */
static bool collect_traces(const char *abs_out, const char *manifest,
                           const struct trace_list *before, struct trace_list *out)
{
    bool ok = true;
    FILE *m = manifest ? fopen(manifest, "r") : NULL;
    char line[PATH_MAX + 16];
    while (ok && m && fgets(line, sizeof line, m)) {
        line[strcspn(line, "\n")] = 0;
        struct stat st;
        if (!line[0])
            continue;
        if (lstat(line, &st) != 0 || !S_ISREG(st.st_mode))
            fprintf(stderr, "memscope: trace %s was written, then removed while the program ran\n",
                    line);
        else if (!list_has(out, NULL, &st))
            ok = list_add(out, line, &st);
    }
    if (m)
        fclose(m);
    struct trace_list now = {0};
    ok = ok && list_trace_names(abs_out, &now);
    if (now.n)
        qsort(now.v, now.n, sizeof *now.v, by_version);
    for (size_t i = 0; ok && i < now.n; i++) {
        struct stat st = {.st_dev = now.v[i].dev, .st_ino = now.v[i].ino};
        if (!list_has(before, now.v[i].path, &st) && !list_has(out, NULL, &st) &&
            starts_as_trace(now.v[i].path))
            ok = list_add(out, now.v[i].path, &st);
    }
    list_free(&now);
    for (size_t i = 1; i < out->n; i++) {
        if (!strcmp(out->v[i].path, abs_out)) {
            struct trace_file root = out->v[i];
            memmove(out->v + 1, out->v, i * sizeof root);
            out->v[0] = root;
            break;
        }
    }
    return ok;
}

/* One line per trace: its path and, unless --no-summary, what the process did. Returns false if
 * the trace could not be read (then `memscope report` cannot read it either). */
static bool print_trace(const char *trace, bool summary)
{
    struct ms_analysis *a;
    char err[1024] = "";
    if (!summary) {
        fprintf(stderr, "memscope: trace written: %s\n", trace);
        return true;
    }
    if (ms_analysis_run_numbers(trace, &a, err, sizeof err) != 0) {
        fprintf(stderr, "memscope: trace written: %s (unreadable: %s)\n", trace, err);
        return false;
    }
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    const struct ms_process_info *p = ms_trace_process(a->trace);
    const char *name = p->argc ? p->argv[0] : p->exe;
    const char *slash = name ? strrchr(name, '/') : NULL;
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
    fprintf(stderr,
            "memscope: trace written: %s\n"
            "memscope:   %s (pid %" PRIu64 "): %s allocations, %s frees, %s bytes allocated, "
            "peak %s bytes; %s bytes in %s blocks still allocated at exit\n",
            trace, slash ? slash + 1 : name, p->pid, ms_format_count(b1, s->allocs),
            ms_format_count(b2, s->frees), ms_format_count(b3, s->bytes_allocated),
            ms_format_count(b4, s->peak_bytes), ms_format_count(b5, s->live_bytes),
            ms_format_count(b6, s->live_blocks));
    ms_analysis_free(a);
    return true;
}

static pid_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
}

int ms_cmd_run(int argc, char **argv)
{
    const char *output = NULL, *unwind = "libunwind", *depth = "64";
    bool summary = true;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        bool is_o = !strcmp(a, "-o");
        if (is_o || !strcmp(a, "--output") || !strcmp(a, "--output=")) {
            /* "-o --" is a forgotten path, not a trace named "--". */
            const char *next = is_o && i + 1 < argc ? argv[i + 1] : NULL;
            if (!next || !*next || !strcmp(next, "--")) {
                ms_cli_error("run", "%s needs a trace path: -o TRACE or --output=TRACE; " USAGE,
                             is_o ? "-o" : "--output");
                return 2;
            }
            output = argv[++i];
        } else if (!strncmp(a, "--output=", 9))
            output = a + 9;
        else if (!strncmp(a, "--unwind=", 9))
            unwind = a + 9;
        else if (!strncmp(a, "--depth=", 8))
            depth = a + 8;
        else if (!strcmp(a, "--no-summary"))
            summary = false;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(ms_help_run, stdout);
            return 0;
        } else if (a[0] == '-') {
            ms_cli_error("run", "unknown option %s; " USAGE, a);
            return 2;
        } else
            break;
    }
    if (i >= argc) {
        ms_cli_error("run", "no program given; " USAGE);
        return 2;
    }
    if (strcmp(unwind, "libunwind") && strcmp(unwind, "fp") && strcmp(unwind, "none")) {
        ms_cli_error("run",
                     "--unwind=%s: the modes are libunwind (default), fp (for binaries "
                     "built with frame pointers) and none",
                     unwind);
        return 2;
    }
    char *end;
    long d = strtol(depth, &end, 10);
    if (*end || d < 1 || d > 256) {
        ms_cli_error("run", "--depth=%s: give a number of frames from 1 to 256", depth);
        return 2;
    }
    char **cmd = argv + i;
    char prog[PATH_MAX];
    int perr = resolve_program(cmd[0], prog, sizeof prog);
    if (perr == ENOENT) {
        ms_cli_error("run", "%s: no such program%s", cmd[0], strchr(cmd[0], '/') ? "" : " in PATH");
        return 127;
    }
    if (perr == EACCES) {
        ms_cli_error("run", "%s: permission denied: the file is not executable (chmod +x it)",
                     prog);
        return 126;
    }
    struct stat st;
    if (stat(prog, &st) == 0 && S_ISDIR(st.st_mode)) {
        ms_cli_error("run", "%s: is a directory, not a program", prog);
        return 126;
    }
    int refused = check_program(prog, NULL);
    if (refused)
        return refused;
    char lib[PATH_MAX];
    if (find_library(lib, sizeof lib) != 0) {
        ms_cli_error("run", "cannot find libmemscope.so next to this memscope (looked in ../lib "
                            "and ../lib/memscope); set MEMSCOPE_LIBRARY to its path");
        return 2;
    }

    /* The trace path: absolute, because the program may change directory. */
    char outbuf[PATH_MAX];
    if (!output) {
        const char *slash = strrchr(cmd[0], '/');
        snprintf(outbuf, sizeof outbuf, "memscope.%s.%d.mstrace", slash ? slash + 1 : cmd[0],
                 (int)getpid());
        output = outbuf;
    }
    char abs_out[PATH_MAX + 1];
    if (output[0] == '/') {
        snprintf(abs_out, sizeof abs_out, "%s", output);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            ms_cli_error("run", "cannot get the current directory: %s", strerror(errno));
            return 2;
        }
        if (snprintf(abs_out, sizeof abs_out, "%s/%s", cwd, output) >= (int)sizeof abs_out) {
            ms_cli_error("run", "%s: path too long", output);
            return 2;
        }
    }
    /* Check now that the trace can be created, so that nothing runs for nothing. */
    int probe = open(abs_out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (probe < 0) {
        struct stat lst;
        if (errno == EEXIST && lstat(abs_out, &lst) == 0 && S_ISLNK(lst.st_mode))
            ms_cli_error("run",
                         "%s is a symbolic link; memscope never writes through one: "
                         "choose another -o path",
                         output);
        else if (errno == EEXIST)
            ms_cli_error("run",
                         "%s already exists; memscope never overwrites a file: remove it "
                         "or choose another -o path",
                         output);
        else
            ms_cli_error("run", "cannot create the trace %s: %s; choose a writable -o path", output,
                         strerror(errno));
        return 2;
    }
    close(probe);
    unlink(abs_out);

    /* The files with trace names that are already there are not this run's. */
    struct trace_list before = {0};
    if (!list_trace_names(abs_out, &before)) {
        ms_cli_error("run", "out of memory");
        return 2;
    }
    /* Each process appends its trace's path to the manifest. Without one (its name too long
     * for the directory, say) the traces are still found by their names after the run. */
    char manifest[PATH_MAX + 32];
    snprintf(manifest, sizeof manifest, "%s.traces-XXXXXX", abs_out);
    int mfd = mkstemp(manifest);
    bool have_manifest = mfd >= 0;
    if (have_manifest)
        close(mfd);

    /* The child writes a byte here if it could not start the program; the pipe closes on exec. */
    int started[2];
    if (pipe2(started, O_CLOEXEC) != 0) {
        ms_cli_error("run", "pipe: %s", strerror(errno));
        if (have_manifest)
            unlink(manifest);
        return 2;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        ms_cli_error("run", "fork: %s", strerror(errno));
        if (have_manifest)
            unlink(manifest);
        return 2;
    }
    if (pid == 0) {
        close(started[0]);
        char preload[2 * PATH_MAX + 2], rootpid[32];
        const char *old = getenv("LD_PRELOAD");
        if (old && *old)
            snprintf(preload, sizeof preload, "%s:%s", lib, old);
        else
            snprintf(preload, sizeof preload, "%s", lib);
        snprintf(rootpid, sizeof rootpid, "%d", (int)getpid());
        setenv("LD_PRELOAD", preload, 1);
        setenv("MEMSCOPE_OUTPUT", abs_out, 1);
        if (have_manifest)
            setenv("MEMSCOPE_MANIFEST", manifest, 1);
        else
            unsetenv("MEMSCOPE_MANIFEST");
        setenv("MEMSCOPE_ROOT_PID", rootpid, 1);
        setenv("MEMSCOPE_UNWIND", unwind, 1);
        setenv("MEMSCOPE_DEPTH", depth, 1);
        int code = exec_program(prog, cmd);
        ssize_t w = write(started[1], "!", 1);
        (void)w;
        _exit(code);
    }
    close(started[1]);
    child_pid = pid;
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTERM, forward_signal);
    signal(SIGHUP, forward_signal);
    char failed;
    ssize_t r;
    while ((r = read(started[0], &failed, 1)) < 0 && errno == EINTR)
        ;
    close(started[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (r == 1) {
        /* The child said why; nothing ran, so there is no trace to look for. */
        if (have_manifest)
            unlink(manifest);
        list_free(&before);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 126;
    }

    /* Report every trace the process tree wrote, the program's own first. */
    struct trace_list traces = {0};
    bool complete = collect_traces(abs_out, have_manifest ? manifest : NULL, &before, &traces);
    if (have_manifest)
        unlink(manifest);
    list_free(&before);
    size_t readable = 0;
    for (size_t t = 0; t < traces.n; t++)
        readable += print_trace(traces.v[t].path, summary);
    if (!complete)
        fprintf(stderr,
                "memscope: out of memory while listing the traces: some may be missing "
                "above; look for %s.*\n",
                abs_out);
    if (!traces.n && complete)
        fprintf(stderr,
                "memscope: no trace was written: memscope could not create it (its earlier "
                "messages on stderr say why) or the program was killed before memscope started "
                "in it\n");
    else if (traces.n > 1)
        fprintf(stderr,
                "memscope: %zu traces (one per process); report one with: memscope "
                "report TRACE\n",
                traces.n);
    else if (traces.n == 1 && readable)
        fprintf(stderr, "memscope: full report: memscope report %s\n", traces.v[0].path);
    list_free(&traces);

    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        fflush(NULL);
        kill(getpid(), sig);
        return 128 + sig;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
