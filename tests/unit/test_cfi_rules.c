/* Unit tests of the .eh_frame reader (src/capture/cfi_rules.c): hand-built CIE/FDE records for
 * each instruction and rule kind, damaged records, and the real tables of this binary and libc. */
#include "capture/cfi_rules.h"
#include "ms_test.h"

#include <stdlib.h>

/* A CIE followed by one FDE, built in a buffer with the layout of .eh_frame. */
struct cfi_buf {
    uint8_t b[512];
    size_t n;
    size_t fde, fde_len_at, cie_aug_at;
};

static void put(struct cfi_buf *c, const void *p, size_t n)
{
    if (n) /* memcpy's source must not be NULL even for no bytes */
        memcpy(c->b + c->n, p, n);
    c->n += n;
}
static void put8(struct cfi_buf *c, uint8_t v)
{
    put(c, &v, 1);
}
static void put32(struct cfi_buf *c, uint32_t v)
{
    put(c, &v, 4);
}
static void patch32(struct cfi_buf *c, size_t at, uint32_t v)
{
    memcpy(c->b + at, &v, 4);
}

/* The code the FDE covers: [CODE, CODE + 0x100), an address near the buffer so that a
 * pc-relative sdata4 reaches it. */
static uintptr_t code_of(const struct cfi_buf *c)
{
    return (uintptr_t)c->b + 0x10000;
}

/* CIE: version 1, augmentation aug ("zR" or "zRS"...), code align 1, data align -8, return
 * address column 16, FDE pointers pc-relative sdata4, initial rules CFA = rsp+8, ra at cfa-8
 * (unless cie_insns gives others). */
static void begin(struct cfi_buf *c, const char *aug, const uint8_t *cie_insns, size_t cie_n)
{
    memset(c, 0, sizeof *c);
    size_t len_at = c->n;
    put32(c, 0);
    put32(c, 0); /* CIE id */
    put8(c, 1);
    put(c, aug, strlen(aug) + 1);
    put8(c, 1);    /* code align */
    put8(c, 0x78); /* data align -8 */
    put8(c, 16);
    put8(c, 1);    /* augmentation data length */
    put8(c, 0x1b); /* pcrel | sdata4 */
    static const uint8_t standard[] = {0x0c, 7, 8, 0x90, 1};
    if (cie_insns)
        put(c, cie_insns, cie_n);
    else
        put(c, standard, sizeof standard);
    while ((c->n - len_at - 4) % 8)
        put8(c, 0); /* DW_CFA_nop padding */
    patch32(c, len_at, (uint32_t)(c->n - len_at - 4));
    c->fde = c->n;
    put32(c, 0);
    put32(c, (uint32_t)(c->n - 0)); /* CIE pointer: back to offset 0 */
    int32_t rel = (int32_t)(code_of(c) - (uintptr_t)(c->b + c->n));
    put32(c, (uint32_t)rel);
    put32(c, 0x100);
    put8(c, 0); /* augmentation data length */
}

static struct ms__cfi_rule end_and_lookup(struct cfi_buf *c, const uint8_t *insns, size_t n,
                                          uintptr_t off)
{
    struct cfi_buf copy = *c;
    put(&copy, insns, n);
    patch32(&copy, copy.fde, (uint32_t)(copy.n - copy.fde - 4));
    /* Code addresses are relative to the copy's own buffer. */
    int32_t rel = (int32_t)(code_of(&copy) - (uintptr_t)(copy.b + copy.fde + 8));
    patch32(&copy, copy.fde + 8, (uint32_t)rel);
    return ms__cfi_rule_in_fde(copy.b + copy.fde, code_of(&copy) + off, 0);
}

/* A typical frame-pointer function: push rbp (1 byte), mov rbp,rsp (3 bytes), body, then an
 * epilogue with remember/restore_state. */
static const uint8_t prologue[] = {
    0x41,          /* advance 1 */
    0x0e, 16,      /* def_cfa_offset 16 */
    0x86, 2,       /* rbp at cfa-16 */
    0x43,          /* advance 3 */
    0x0d, 6,       /* def_cfa_register rbp */
    0x02, 0x40,    /* advance_loc1 64 */
    0x0a,          /* remember_state */
    0x0c, 7,    8, /* def_cfa rsp+8 (after leave) */
    0x41,          /* advance 1 */
    0x0b,          /* restore_state */
};

static void standard_frames(void)
{
    struct cfi_buf c;
    begin(&c, "zR", NULL, 0);
    struct ms__cfi_rule r = end_and_lookup(&c, prologue, sizeof prologue, 0);
    ASSERT_EQ(r.kind, MS_RULE_RSP);
    ASSERT_EQ(r.cfa_off, 8);
    ASSERT_EQ(r.rbp_saved, 0);
    r = end_and_lookup(&c, prologue, sizeof prologue, 1);
    ASSERT_EQ(r.kind, MS_RULE_RSP);
    ASSERT_EQ(r.cfa_off, 16);
    ASSERT_EQ(r.rbp_saved, 1);
    ASSERT_EQ(r.rbp_off, -16);
    r = end_and_lookup(&c, prologue, sizeof prologue, 3);
    ASSERT_EQ(r.kind, MS_RULE_RSP);
    r = end_and_lookup(&c, prologue, sizeof prologue, 4);
    ASSERT_EQ(r.kind, MS_RULE_RBP);
    ASSERT_EQ(r.cfa_off, 16);
    ASSERT_EQ(r.rbp_off, -16);
    r = end_and_lookup(&c, prologue, sizeof prologue, 4 + 64); /* after leave */
    ASSERT_EQ(r.kind, MS_RULE_RSP);
    ASSERT_EQ(r.cfa_off, 8);
    r = end_and_lookup(&c, prologue, sizeof prologue, 4 + 65); /* state restored */
    ASSERT_EQ(r.kind, MS_RULE_RBP);
    ASSERT_EQ(r.cfa_off, 16);
    ASSERT_EQ(r.rbp_off, -16);
}

static void end_of_stack_and_others(void)
{
    struct cfi_buf c;
    begin(&c, "zR", NULL, 0);
    static const uint8_t ra_undef[] = {0x07, 16};
    ASSERT_EQ(end_and_lookup(&c, ra_undef, sizeof ra_undef, 0).kind, MS_RULE_LAST);
    static const uint8_t rbp_undef[] = {0x07, 6};
    ASSERT_EQ(end_and_lookup(&c, rbp_undef, sizeof rbp_undef, 0).kind, MS_RULE_LAST);
    static const uint8_t cfa_expr[] = {0x0f, 2, 0x77, 8};
    ASSERT_EQ(end_and_lookup(&c, cfa_expr, sizeof cfa_expr, 0).kind, MS_RULE_OTHER);
    static const uint8_t cfa_r10[] = {0x0c, 10, 0};
    ASSERT_EQ(end_and_lookup(&c, cfa_r10, sizeof cfa_r10, 0).kind, MS_RULE_OTHER);
    static const uint8_t rbp_in_reg[] = {0x09, 6, 3};
    ASSERT_EQ(end_and_lookup(&c, rbp_in_reg, sizeof rbp_in_reg, 0).kind, MS_RULE_OTHER);
    static const uint8_t rbp_expr[] = {0x10, 6, 1, 0x96};
    ASSERT_EQ(end_and_lookup(&c, rbp_expr, sizeof rbp_expr, 0).kind, MS_RULE_OTHER);
    static const uint8_t ra_elsewhere[] = {0x90, 2};
    ASSERT_EQ(end_and_lookup(&c, ra_elsewhere, sizeof ra_elsewhere, 0).kind, MS_RULE_OTHER);
    static const uint8_t unknown_op[] = {0x3f};
    ASSERT_EQ(end_and_lookup(&c, unknown_op, sizeof unknown_op, 0).kind, MS_RULE_OTHER);
    static const uint8_t unbalanced[] = {0x0b};
    ASSERT_EQ(end_and_lookup(&c, unbalanced, sizeof unbalanced, 0).kind, MS_RULE_OTHER);
    /* Registers libunwind does not know (17 and up: xmm6-15 saved by ms_abi code), and rules it
     * cannot follow for any register, make the frame libunwind's. */
    static const uint8_t xmm_saved[] = {0x97, 3}; /* offset r23 */
    ASSERT_EQ(end_and_lookup(&c, xmm_saved, sizeof xmm_saved, 0).kind, MS_RULE_OTHER);
    static const uint8_t undef_17[] = {0x07, 17};
    ASSERT_EQ(end_and_lookup(&c, undef_17, sizeof undef_17, 0).kind, MS_RULE_OTHER);
    static const uint8_t val_offset_rbx[] = {0x14, 3, 2};
    ASSERT_EQ(end_and_lookup(&c, val_offset_rbx, sizeof val_offset_rbx, 0).kind, MS_RULE_OTHER);
    static const uint8_t expr_rbx[] = {0x10, 3, 1, 0x9c}; /* DW_OP_call_frame_cfa */
    ASSERT_EQ(end_and_lookup(&c, expr_rbx, sizeof expr_rbx, 0).kind, MS_RULE_OTHER);
    static const uint8_t cfa_262[] = {0x0c, 0x86, 0x02, 16}; /* 262 & 0xff would be rbp */
    ASSERT_EQ(end_and_lookup(&c, cfa_262, sizeof cfa_262, 0).kind, MS_RULE_OTHER);
    static const uint8_t rbx_in_xmm[] = {0x09, 3, 17};
    ASSERT_EQ(end_and_lookup(&c, rbx_in_xmm, sizeof rbx_in_xmm, 0).kind, MS_RULE_OTHER);
    /* A rule for another register libunwind knows does not matter. */
    static const uint8_t rbx_saved[] = {0x83, 2};
    ASSERT_EQ(end_and_lookup(&c, rbx_saved, sizeof rbx_saved, 0).kind, MS_RULE_RSP);
    /* The signal-frame augmentation is libunwind's case. */
    begin(&c, "zRS", NULL, 0);
    ASSERT_EQ(end_and_lookup(&c, NULL, 0, 0).kind, MS_RULE_OTHER);
}

static void other_encodings(void)
{
    struct cfi_buf c;
    begin(&c, "zR", NULL, 0);
    /* def_cfa_sf / def_cfa_offset_sf (factored by -8), offset_extended_sf, advance_loc2/4,
     * GNU_args_size, nops, and DW_CFA_restore back to the CIE's rules. */
    static const uint8_t insns[] = {
        0x12, 7,    0x7e,       /* def_cfa_sf rsp, -2*-8 = 16 */
        0x11, 6,    0x7e,       /* offset_extended_sf: rbp at cfa + (-2 * -8) */
        0x03, 0x10, 0x00,       /* advance_loc2 16 */
        0x13, 0x7c,             /* def_cfa_offset_sf 32 */
        0x2e, 8,                /* GNU_args_size */
        0x00, 0x00,             /* nops */
        0x04, 0x10, 0,    0, 0, /* advance_loc4 16 */
        0xc6,                   /* restore rbp: same value, as in the CIE */
    };
    struct ms__cfi_rule r = end_and_lookup(&c, insns, sizeof insns, 0);
    ASSERT_EQ(r.kind, MS_RULE_RSP);
    ASSERT_EQ(r.cfa_off, 16);
    ASSERT_EQ(r.rbp_saved, 1);
    ASSERT_EQ(r.rbp_off, 16); /* -2 * -8 */
    r = end_and_lookup(&c, insns, sizeof insns, 16);
    ASSERT_EQ(r.cfa_off, 32);
    ASSERT_EQ(r.rbp_saved, 1);
    r = end_and_lookup(&c, insns, sizeof insns, 32);
    ASSERT_EQ(r.kind, MS_RULE_RSP);
    ASSERT_EQ(r.rbp_saved, 0);
}

static void outside_and_damaged(void)
{
    struct cfi_buf c;
    begin(&c, "zR", NULL, 0);
    ASSERT_EQ(end_and_lookup(&c, prologue, sizeof prologue, 0x100).kind, MS_RULE_OTHER);
    /* Instructions that run past the record's end. */
    static const uint8_t cut[] = {0x0c, 7};
    ASSERT_EQ(end_and_lookup(&c, cut, sizeof cut, 0).kind, MS_RULE_OTHER);
    static const uint8_t cut_leb[] = {0x0e, 0x80};
    ASSERT_EQ(end_and_lookup(&c, cut_leb, sizeof cut_leb, 0).kind, MS_RULE_OTHER);
    /* A record of length 0 (the terminator) and a 64-bit record are not FDEs. */
    uint8_t zero[8] = {0};
    ASSERT_EQ(ms__cfi_rule_in_fde(zero, 0, 0).kind, MS_RULE_OTHER);
    uint8_t dwarf64[16] = {0xff, 0xff, 0xff, 0xff};
    ASSERT_EQ(ms__cfi_rule_in_fde(dwarf64, 0, 0).kind, MS_RULE_OTHER);
    /* A CIE where an FDE is expected. */
    ASSERT_EQ(ms__cfi_rule_in_fde(c.b, code_of(&c), 0).kind, MS_RULE_OTHER);
    /* A CIE with an unknown augmentation. */
    begin(&c, "zX", NULL, 0);
    ASSERT_EQ(end_and_lookup(&c, prologue, sizeof prologue, 0).kind, MS_RULE_OTHER);
}

__attribute__((noinline)) static int leaf(int x)
{
    return x * 3 + 1;
}

static void real_tables(void)
{
    ASSERT_TRUE(ms__cfi_available());
    /* At a function's first instruction the CFA is rsp+8 and nothing is saved. */
    struct ms__cfi_rule r = ms__cfi_rule_at((uintptr_t)&leaf);
    ASSERT_EQ(r.kind, MS_RULE_RSP);
    ASSERT_EQ(r.cfa_off, 8);
    ASSERT_EQ(r.rbp_saved, 0);
    r = ms__cfi_rule_at((uintptr_t)&malloc);
    ASSERT_EQ(r.kind, MS_RULE_RSP);
    ASSERT_EQ(r.cfa_off, 8);
    /* The return address into main's caller (libc) has a standard rule too. */
    r = ms__cfi_rule_at((uintptr_t)__builtin_return_address(0) - 1);
    ASSERT_TRUE(r.kind == MS_RULE_RSP || r.kind == MS_RULE_RBP);
    /* Addresses in no module, and in data. */
    ASSERT_EQ(ms__cfi_rule_at(0x1000).kind, MS_RULE_OTHER);
    static int data;
    ASSERT_EQ(ms__cfi_rule_at((uintptr_t)&data).kind, MS_RULE_OTHER);
    ASSERT_EQ(leaf(1), 4);
}

MS_TEST_MAIN(TEST(standard_frames), TEST(end_of_stack_and_others), TEST(other_encodings),
             TEST(outside_and_damaged), TEST(real_tables))
