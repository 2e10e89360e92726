/* Reads x86-64 .eh_frame call-frame information into the rules of cfi_rules.h. The layout is
 * the Linux Standard Base's (.eh_frame_hdr with its sorted table, CIE and FDE records) and the
 * instructions are DWARF's DW_CFA_* set. The result mirrors what libunwind 1.6 decides for the
 * same address (Gparser.c run_cfi_program, x86_64 Gstash_frame.c and Gstep.c): the
 * verification mode (MEMSCOPE_UNWIND_VERIFY=1) checks every stack against libunwind. */
#define _GNU_SOURCE
#include "cfi_rules.h"

#include <dlfcn.h>
#include <string.h>

#pragma weak _dl_find_object

/* DWARF register numbers on x86-64 and the CFI constants used here. */
enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };
enum {
    PE_OMIT = 0xff,
    PE_ABSPTR = 0x00,
    PE_ULEB = 0x01,
    PE_UDATA2 = 0x02,
    PE_UDATA4 = 0x03,
    PE_UDATA8 = 0x04,
    PE_SLEB = 0x09,
    PE_SDATA2 = 0x0a,
    PE_SDATA4 = 0x0b,
    PE_SDATA8 = 0x0c,
    PE_PCREL = 0x10,
    PE_DATAREL = 0x30,
    PE_INDIRECT = 0x80,
};

/* How one register is recovered. */
enum { HOW_SAME = 0, HOW_UNDEF, HOW_CFAREL, HOW_OTHER };

struct reg_rule {
    uint8_t how;
    int64_t off;
};

/* A row of the CFI table, reduced to what the standard frame needs. */
struct row {
    uint64_t cfa_reg;
    bool cfa_expr;
    int64_t cfa_off;
    struct reg_rule rbp, rsp, ra;
};

struct reader {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t read_uleb(struct reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t read_sleb(struct reader *r)
{
    int64_t v = 0;
    int shift = 0;
    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= -((int64_t)1 << shift);
            return v;
        }
    }
    r->bad = true;
    return 0;
}

static uint64_t read_fixed(struct reader *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, n); /* little-endian */
    r->p += n;
    return v;
}

static uint8_t read_u8(struct reader *r)
{
    return (uint8_t)read_fixed(r, 1);
}

/* An encoded pointer (DW_EH_PE_*). Indirect pointers are not followed: the only ones here are
 * personality routines, which are skipped. */
static uintptr_t read_encoded(struct reader *r, uint8_t enc, uintptr_t datarel)
{
    if (enc == PE_OMIT)
        return 0;
    uintptr_t at = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case PE_ABSPTR:
    case PE_UDATA8:
    case PE_SDATA8:
        v = read_fixed(r, 8);
        break;
    case PE_ULEB:
        v = read_uleb(r);
        break;
    case PE_SLEB:
        v = (uint64_t)read_sleb(r);
        break;
    case PE_UDATA2:
        v = read_fixed(r, 2);
        break;
    case PE_SDATA2:
        v = (uint64_t)(int64_t)(int16_t)read_fixed(r, 2);
        break;
    case PE_UDATA4:
        v = read_fixed(r, 4);
        break;
    case PE_SDATA4:
        v = (uint64_t)(int64_t)(int32_t)read_fixed(r, 4);
        break;
    default:
        r->bad = true;
        return 0;
    }
    switch (enc & 0x70) {
    case 0:
        break;
    case PE_PCREL:
        v += at;
        break;
    case PE_DATAREL:
        v += datarel;
        break;
    default:
        r->bad = true;
        return 0;
    }
    return (uintptr_t)v;
}

/* A CFI record (CIE or FDE): its body, after the length field. 64-bit DWARF records do not
 * occur in .eh_frame on Linux and are rejected. */
static bool record_at(const uint8_t *at, struct reader *body)
{
    uint32_t len;
    memcpy(&len, at, 4);
    if (len == 0 || len == 0xffffffffu)
        return false;
    body->p = at + 4;
    body->end = at + 4 + len;
    body->bad = false;
    return true;
}

struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc;
    bool has_aug_data;
    struct reader insns;
};

static bool parse_cie(const uint8_t *at, struct cie *c)
{
    struct reader r;
    if (!record_at(at, &r))
        return false;
    if (read_fixed(&r, 4) != 0)
        return false; /* not a CIE */
    uint8_t version = read_u8(&r);
    if (version != 1 && version != 3)
        return false;
    const char *aug = (const char *)r.p;
    size_t aug_len = strnlen(aug, (size_t)(r.end - r.p));
    if (aug_len == (size_t)(r.end - r.p))
        return false;
    r.p += aug_len + 1;
    if (aug[0] == 'e' && aug[1] == 'h')
        return false; /* ancient GCC pointer field */
    c->code_align = read_uleb(&r);
    c->data_align = read_sleb(&r);
    uint64_t ra = version == 1 ? read_u8(&r) : read_uleb(&r);
    if (ra != REG_RA)
        return false;
    c->fde_enc = PE_ABSPTR;
    c->has_aug_data = aug[0] == 'z';
    if (c->has_aug_data) {
        uint64_t n = read_uleb(&r);
        if (r.bad || n > (uint64_t)(r.end - r.p))
            return false;
        struct reader a = {r.p, r.p + n, false};
        r.p += n;
        for (const char *s = aug + 1; *s; s++) {
            switch (*s) {
            case 'R':
                c->fde_enc = read_u8(&a);
                break;
            case 'L':
                read_u8(&a);
                break;
            case 'P':
                read_encoded(&a, read_u8(&a), 0);
                break;
            case 'S':
                return false; /* signal frame: libunwind's special case */
            default:
                return false;
            }
        }
        if (a.bad)
            return false;
    } else if (aug[0]) {
        return false;
    }
    c->insns = r;
    return !r.bad;
}

/* libunwind 1.6 knows the 17 registers 0..16 (DWARF_NUM_PRESERVED_REGS) and fails a frame whose
 * CFI names another (xmm registers, saved in ms_abi functions): so does this reader. */
#define NUM_REGS 17

static bool set_reg(struct row *row, uint64_t reg, uint8_t how, int64_t off)
{
    if (reg >= NUM_REGS)
        return false;
    struct reg_rule *rule = reg == REG_RBP   ? &row->rbp
                            : reg == REG_RSP ? &row->rsp
                            : reg == REG_RA  ? &row->ra
                                             : NULL;
    if (rule) {
        rule->how = how;
        rule->off = off;
    }
    return true;
}

static bool restore_reg(struct row *row, const struct row *initial, uint64_t reg)
{
    if (reg >= NUM_REGS)
        return false;
    if (reg == REG_RBP)
        row->rbp = initial->rbp;
    else if (reg == REG_RSP)
        row->rsp = initial->rsp;
    else if (reg == REG_RA)
        row->ra = initial->ra;
    return true;
}

#define STATE_STACK 8

/* Runs CFA instructions from loc, stopping before the first row that starts after ip. Returns
 * false on anything not understood. initial is the CIE's row (for DW_CFA_restore), or NULL
 * while running the CIE itself. */
static bool run_cfi(struct reader *r, const struct cie *c, uintptr_t loc, uintptr_t ip,
                    struct row *row, const struct row *initial, uintptr_t datarel)
{
    struct row stack[STATE_STACK];
    int depth = 0;
    while (r->p < r->end) {
        uint8_t op = read_u8(r);
        uint8_t low = op & 0x3f;
        uint64_t reg, adv = 0;
        bool advance = false;
        switch (op & 0xc0) {
        case 0x40:
            adv = low * c->code_align;
            advance = true;
            break;
        case 0x80:
            if (!set_reg(row, low, HOW_CFAREL, (int64_t)read_uleb(r) * c->data_align))
                return false;
            break;
        case 0xc0:
            if (!initial)
                return false;
            if (!restore_reg(row, initial, low))
                return false;
            break;
        default:
            switch (op) {
            case 0x00:
                break;   /* nop */
            case 0x01: { /* set_loc */
                uintptr_t to = read_encoded(r, c->fde_enc, datarel);
                if (to > ip)
                    return !r->bad;
                loc = to;
                break;
            }
            case 0x02:
                adv = read_fixed(r, 1) * c->code_align;
                advance = true;
                break;
            case 0x03:
                adv = read_fixed(r, 2) * c->code_align;
                advance = true;
                break;
            case 0x04:
                adv = read_fixed(r, 4) * c->code_align;
                advance = true;
                break;
            case 0x05: /* offset_extended */
                reg = read_uleb(r);
                if (!set_reg(row, reg, HOW_CFAREL, (int64_t)read_uleb(r) * c->data_align))
                    return false;
                break;
            case 0x06: /* restore_extended */
                reg = read_uleb(r);
                if (!initial)
                    return false;
                if (!restore_reg(row, initial, reg))
                    return false;
                break;
            case 0x07:
                if (!set_reg(row, read_uleb(r), HOW_UNDEF, 0))
                    return false;
                break;
            case 0x08:
                if (!set_reg(row, read_uleb(r), HOW_SAME, 0))
                    return false;
                break;
            case 0x09: /* register */
                reg = read_uleb(r);
                if (read_uleb(r) >= NUM_REGS || !set_reg(row, reg, HOW_OTHER, 0))
                    return false;
                break;
            case 0x0a: /* remember_state */
                if (depth == STATE_STACK)
                    return false;
                stack[depth++] = *row;
                break;
            case 0x0b: /* restore_state: the CFA rule comes back too, as in libunwind */
                if (depth == 0)
                    return false;
                *row = stack[--depth];
                break;
            case 0x0c: /* def_cfa */
                row->cfa_reg = read_uleb(r);
                row->cfa_off = (int64_t)read_uleb(r);
                row->cfa_expr = false;
                break;
            case 0x0d: /* def_cfa_register */
                row->cfa_reg = read_uleb(r);
                row->cfa_expr = false;
                break;
            case 0x0e:
                row->cfa_off = (int64_t)read_uleb(r);
                break;
            case 0x0f: { /* def_cfa_expression */
                uint64_t n = read_uleb(r);
                if (n > (uint64_t)(r->end - r->p))
                    return false;
                r->p += n;
                row->cfa_expr = true;
                break;
            }
            case 0x10: /* expression */
            case 0x14: /* val_offset */
            case 0x15: /* val_offset_sf */
            case 0x16: /* val_expression */
                /* libunwind 1.6 cannot evaluate every expression and does not decode the
                 * val_offset forms at all, whatever the register: its stack of such a frame is
                 * its own to give. */
                return false;
            case 0x11: /* offset_extended_sf */
                reg = read_uleb(r);
                if (!set_reg(row, reg, HOW_CFAREL, read_sleb(r) * c->data_align))
                    return false;
                break;
            case 0x12: /* def_cfa_sf */
                row->cfa_reg = read_uleb(r);
                row->cfa_off = read_sleb(r) * c->data_align;
                row->cfa_expr = false;
                break;
            case 0x13:
                row->cfa_off = read_sleb(r) * c->data_align;
                break;
            case 0x2e:
                read_uleb(r);
                break; /* GNU_args_size */
            case 0x2f: /* GNU_negative_offset_extended */
                reg = read_uleb(r);
                if (!set_reg(row, reg, HOW_CFAREL, -(int64_t)read_uleb(r) * c->data_align))
                    return false;
                break;
            default:
                return false;
            }
        }
        if (r->bad)
            return false;
        if (advance) {
            if (loc + adv > ip)
                return true;
            loc += adv;
        }
    }
    return !r->bad;
}

static bool small(int64_t v, int bits)
{
    return v > -((int64_t)1 << bits) && v < ((int64_t)1 << bits);
}

/* The standard-frame test of libunwind's x86-64 tdep_stash_frame, and its end-of-chain test
 * (undefined return address, or undefined rbp: Gstep.c). */
static struct ms__cfi_rule classify(const struct row *row)
{
    struct ms__cfi_rule rule = {0, 0, MS_RULE_OTHER, 0};
    if (row->ra.how == HOW_UNDEF || row->rbp.how == HOW_UNDEF) {
        rule.kind = MS_RULE_LAST;
        return rule;
    }
    if (row->cfa_expr || (row->cfa_reg != REG_RBP && row->cfa_reg != REG_RSP) ||
        !small(row->cfa_off, 28))
        return rule;
    if (row->ra.how != HOW_CFAREL || row->ra.off != -8)
        return rule;
    if (row->rbp.how == HOW_CFAREL) {
        if (!small(row->rbp.off, 14) || row->rbp.off == -1)
            return rule;
        rule.rbp_saved = 1;
        rule.rbp_off = (int16_t)row->rbp.off;
    } else if (row->rbp.how != HOW_SAME) {
        return rule;
    }
    if (row->rsp.how == HOW_OTHER ||
        (row->rsp.how == HOW_CFAREL && (!small(row->rsp.off, 14) || row->rsp.off == -1)))
        return rule;
    rule.cfa_off = (int32_t)row->cfa_off;
    rule.kind = row->cfa_reg == REG_RSP ? MS_RULE_RSP : MS_RULE_RBP;
    return rule;
}

struct ms__cfi_rule ms__cfi_rule_in_fde(const uint8_t *fde, uintptr_t ip, uintptr_t datarel)
{
    struct ms__cfi_rule other = {0, 0, MS_RULE_OTHER, 0};
    struct reader r;
    if (!record_at(fde, &r))
        return other;
    uint32_t cie_off = (uint32_t)read_fixed(&r, 4);
    if (cie_off == 0)
        return other; /* a CIE, not an FDE */
    struct cie c;
    if (!parse_cie(fde + 4 - cie_off, &c))
        return other;
    uintptr_t begin = read_encoded(&r, c.fde_enc, datarel);
    uintptr_t range = read_encoded(&r, c.fde_enc & 0x0f, 0);
    if (r.bad || ip < begin || ip - begin >= range)
        return other;
    if (c.has_aug_data) {
        uint64_t n = read_uleb(&r);
        if (r.bad || n > (uint64_t)(r.end - r.p))
            return other;
        r.p += n;
    }
    /* libunwind starts every register as "same value". */
    struct row initial = {.cfa_reg = REG_RSP, .cfa_off = 0};
    struct reader cie_insns = c.insns;
    if (!run_cfi(&cie_insns, &c, begin, UINTPTR_MAX, &initial, NULL, datarel))
        return other;
    struct row row = initial;
    if (!run_cfi(&r, &c, begin, ip, &row, &initial, datarel))
        return other;
    return classify(&row);
}

/* Binary search of .eh_frame_hdr's table (initial location, FDE), both datarel sdata4 in
 * practice; other encodings are not searched. */
static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t ip)
{
    if (hdr[0] != 1 || hdr[3] != (PE_DATAREL | PE_SDATA4))
        return NULL;
    struct reader r = {hdr + 4, hdr + 4 + 16, false};
    read_encoded(&r, hdr[1], (uintptr_t)hdr); /* eh_frame_ptr */
    uintptr_t count = read_encoded(&r, hdr[2], (uintptr_t)hdr);
    if (r.bad || hdr[2] == PE_OMIT || count == 0)
        return NULL;
    const int32_t *table = (const int32_t *)r.p;
    uintptr_t lo = 0, hi = count; /* answer: the last entry with start <= ip */
    while (hi - lo > 1) {
        uintptr_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)hdr + (intptr_t)table[2 * mid] <= ip)
            lo = mid;
        else
            hi = mid;
    }
    if ((uintptr_t)hdr + (intptr_t)table[2 * lo] > ip)
        return NULL;
    return hdr + (intptr_t)table[2 * lo + 1];
}

bool ms__cfi_available(void)
{
    return _dl_find_object != NULL;
}

struct ms__cfi_rule ms__cfi_rule_at(uintptr_t ip)
{
    struct ms__cfi_rule other = {0, 0, MS_RULE_OTHER, 0};
    struct dl_find_object found;
    if (!_dl_find_object || _dl_find_object((void *)ip, &found) != 0 || !found.dlfo_eh_frame)
        return other;
    const uint8_t *hdr = found.dlfo_eh_frame;
    const uint8_t *fde = find_fde(hdr, ip);
    if (!fde)
        return other;
    return ms__cfi_rule_in_fde(fde, ip, (uintptr_t)hdr);
}
