/* Whether LD_PRELOAD can trace a program, and how it is run: finding it as execvp does, reading
 * its ELF header or #! line as the kernel reads them, and executing it in the child. */
#define _GNU_SOURCE
#include "program_check.h"

#include "cli.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The kernel reads this much of a file to choose how to run it (BINPRM_BUF_SIZE): enough for
 * the ELF header and for the #! line it honours. */
#define HEAD_SIZE 256
/* execve follows at most this many #! lines before it fails with ELOOP (fs/exec.c). */
#define MAX_SCRIPT_DEPTH 5
/* The shell execvp gives a file the kernel cannot execute (glibc's _PATH_BSHELL). */
#define SHELL_PATH "/bin/sh"

/* Finds name as execvp would. Returns 0 with the path in out, or an errno value: EACCES when
 * a file was found but cannot be executed (out then holds the first such file, the one to
 * blame), ENOENT when there is none; with a slash in name, what access(2) says. A path that
 * does not fit in out is ENAMETOOLONG: a cut path would name another file. */
static int resolve_program(const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    if (strchr(name, '/')) {
        if (nlen >= cap)
            return ENAMETOOLONG;
        memcpy(out, name, nlen + 1);
        return access(out, X_OK) == 0 ? 0 : errno;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    bool found_noexec = false;
    for (const char *p = path;;) {
        const char *colon = strchrnul(p, ':');
        size_t len = (size_t)(colon - p);
        char cand[PATH_MAX];
        /* An empty element, trailing ones included, is the current directory (execvp). */
        int n = snprintf(cand, sizeof cand, "%.*s/%s", len ? (int)len : 1, len ? p : ".", name);
        struct stat st;
        if (n > 0 && (size_t)n < sizeof cand && (size_t)n < cap && stat(cand, &st) == 0 &&
            S_ISREG(st.st_mode)) {
            bool runs = access(cand, X_OK) == 0;
            if (runs || !found_noexec)
                memcpy(out, cand, (size_t)n + 1);
            if (runs)
                return 0;
            found_noexec = true;
        }
        if (!*colon)
            break;
        p = colon + 1;
    }
    return found_noexec ? EACCES : ENOENT;
}

int ms__program_find(const char *name, char *path, size_t cap)
{
    int e = resolve_program(name, path, cap);
    struct stat st;
    if (e == ENOENT || e == ENOTDIR) {
        ms_cli_error("run", "%s: no such program%s", name, strchr(name, '/') ? "" : " in PATH");
        return 127;
    }
    if (e == EACCES && stat(path, &st) != 0) {
        ms_cli_error("run",
                     "cannot execute %s: %s: a directory on its path cannot be searched by this "
                     "user; give a program this user can reach",
                     name, strerror(EACCES));
        return 126;
    }
    if (e == EACCES && !S_ISDIR(st.st_mode)) {
        struct statvfs vfs;
        /* access(X_OK) refuses every file of a noexec mount, whatever its mode. */
        if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOEXEC))
            ms_cli_error("run",
                         "%s: permission denied: it is on a file system mounted noexec, where "
                         "nothing is executed; copy it to another file system",
                         path);
        else
            ms_cli_error("run", "%s: permission denied: the file is not executable (chmod +x it)",
                         path);
        return 126;
    }
    if (e && e != EACCES) {
        ms_cli_error("run", "cannot execute %s: %s", name, strerror(e));
        return 126;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        ms_cli_error("run", "%s: is a directory, not a program", path);
        return 126;
    }
    return 0;
}

/* Reads the first HEAD_SIZE bytes of fd into head, zero-padded as the kernel pads a shorter
 * file; returns how many the file has (0 if it cannot be read). */
static size_t read_head(int fd, unsigned char head[HEAD_SIZE])
{
    memset(head, 0, HEAD_SIZE);
    ssize_t n = pread(fd, head, HEAD_SIZE, 0);
    return n > 0 ? (size_t)n : 0;
}

static bool ends_name(char c)
{
    return c == ' ' || c == '\t' || c == 0;
}

/* The interpreter a #! line names, read as the kernel's binfmt_script reads it: the first word
 * after "#!", ended by a space, tab, NUL or the end of the line. False when the kernel refuses
 * the line (no name, or a name that the HEAD_SIZE bytes cut off): execve then fails with
 * ENOEXEC and the file goes to the shell like any other text. Without a newline in the
 * HEAD_SIZE bytes the kernel drops the last one, but a space, tab or NUL there still shows that
 * the name before it is whole. */
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
    while (stop < end && !ends_name(*stop))
        stop++;
    if (stop == name || (!whole_line && stop == end && !ends_name(*end)) ||
        (size_t)(stop - name) >= cap)
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

/* Refuses (one line, exit status 127) an ELF file whose PT_INTERP names a dynamic loader that
 * does not exist (a program built for another system): execve fails with ENOENT, which would
 * read as if the program itself were missing. Returns 0 otherwise, and for a PT_INTERP the
 * kernel rejects (not NUL-terminated, longer than PATH_MAX), which execve reports. */
static int check_loader(const char *who, int fd, const Elf64_Phdr *ph)
{
    char loader[PATH_MAX];
    if (ph->p_filesz < 2 || ph->p_filesz > sizeof loader || ph->p_offset > (uint64_t)INT64_MAX ||
        pread(fd, loader, ph->p_filesz, (off_t)ph->p_offset) != (ssize_t)ph->p_filesz ||
        loader[ph->p_filesz - 1] != 0)
        return 0;
    if (access(loader, F_OK) == 0 || (errno != ENOENT && errno != ENOTDIR))
        return 0;
    ms_cli_error("run",
                 "%s needs the dynamic loader %s (named by its PT_INTERP header), which does not "
                 "exist; build the program for this system, or install that loader",
                 who, loader);
    return 127;
}

/* Refuses (one line, exit status 2) an ELF file LD_PRELOAD cannot act on: one of another class
 * or machine than libmemscope.so's, which the loader cannot map (the header alone says so), or
 * one without a dynamic loader (no PT_INTERP); and (exit status 127) one whose dynamic loader is
 * missing. Returns 0 for anything else, including files the kernel itself will refuse. */
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
            return check_loader(who, fd, &ph);
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

/* The checks above follow the #! lines as the kernel does; the script's own setuid bit is
 * ignored by the kernel, so only the ELF file at the end of the chain is judged. */
int ms__program_check(const char *prog, const char *name)
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
            struct statvfs vfs;
            bool noexec =
                S_ISREG(st.st_mode) && statvfs(interp, &vfs) == 0 && (vfs.f_flag & ST_NOEXEC);
            ms_cli_error("run",
                         "%s: its #! interpreter %s is %s; name an executable program on the #! "
                         "line",
                         prog, interp,
                         S_ISDIR(st.st_mode) ? "a directory"
                         : noexec            ? "on a file system mounted noexec"
                                             : "not an executable file");
            return 126;
        }
        snprintf(path, sizeof path, "%s", interp);
        snprintf(who, sizeof who, "%s: its interpreter %s", prog, interp);
    }
}

/* ENOEXEC (no ELF header, no valid #! line, no binfmt_misc handler) is where execvp turns to
 * /bin/sh; memscope does the same, but refuses binary data rather than give the shell something
 * to choke on. */
int ms__program_exec(const char *prog, char **cmd)
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
    int code = ms__program_check(SHELL_PATH, who);
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
