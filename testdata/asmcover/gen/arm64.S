// A broad spread of arm64 encodings for goscope's decoder-coverage test (GNU syntax).
	.text
	mov x0, x1; mov w2, w3; mov x4, sp; mov sp, x5; mov x6, #0x1234; mov x7, #-1; mov w8, #0xffff0000
	movz x9, #0x1, lsl #16; movk x10, #0x8e38, lsl #16; movn w11, #0; movk w12, #0xf, lsl #16
	add x0, x1, x2; add x3, x4, #0x10; add x5, sp, #1, lsl #12; add x6, x7, x8, lsl #3; add x9, sp, w10, uxtw #2
	adds x0, x1, x2; sub x3, x4, #8; subs x5, x6, x7, lsr #5; cmp x0, #20; cmp w1, w2; cmn x3, #1; cmp sp, x16
	neg x0, x1; negs w2, w3; adc x0, x1, x2; sbc w3, w4, w5; ngc x6, x7
	and x0, x1, #0xf; orr x2, x3, #0xffffffffffffff80; eor w4, w5, #0xff; ands x6, x7, #0x1f; tst x8, #1; tst w9, #0x80000000
	and x0, x1, x2; orr x3, x4, x5, lsl #6; eor x6, x7, x8, asr #3; bic x9, x10, x11; orn x12, x13, x14; mvn x15, x16, lsl #6
	eon x0, x1, x2; bics x3, x4, x5; mov w0, #1; orr w1, wzr, #0x55555555
	lsl x0, x1, #3; lsr x2, x3, #24; asr x4, x5, #63; ror x6, x7, #8; lsl w8, w9, w10; lsr x11, x12, x13; asr w14, w15, w16; ror x17, x18, x19
	ubfx x0, x1, #0, #8; ubfiz x2, x3, #1, #31; sbfx x4, x5, #31, #1; sbfiz x6, x7, #3, #32; bfi x8, x9, #4, #8; bfxil w10, w11, #2, #3
	sxtb x0, w1; sxth w2, w3; sxtw x4, w5; uxtb w6, w7; uxth w8, w9; extr x10, x11, x12, #5
	csel x0, x1, x2, lo; csinc x3, x4, x5, le; csinv x6, x7, x8, eq; csneg x9, x10, x11, lt; cset x12, ne; csetm w13, hs
	cinc x14, x15, eq; cinv x16, x17, gt; cneg x18, x19, hi; ccmp x0, x1, #0xa, ge; ccmn w2, #5, #3, ne; ccmp x3, #2, #0, lt
	mul x0, x1, x2; mul w3, w4, w5; madd x6, x7, x8, x9; msub x10, x11, x12, x13; mneg x14, x15, x16
	smull x0, w1, w2; umull x3, w4, w5; smulh x6, x7, x8; umulh x9, x10, x11; smaddl x12, w13, w14, x15; umsubl x16, w17, w18, x19
	udiv x0, x1, x2; sdiv w3, w4, w5; rbit x6, x7; rev x8, x9; rev16 w10, w11; rev32 x12, x13; clz x14, x15; cls w16, w17
	crc32b w0, w1, w2; crc32cx w3, w4, x5
	ldr x0, [x1]; ldr x2, [x3, #8]; ldr x4, [sp, #0x100]; ldr x5, [x6, #16]!; ldr x7, [x8], #32; ldr w9, [x10, #4]
	ldr x11, [x12, x13]; ldr x14, [x15, x16, lsl #3]; ldr w17, [x18, w19, uxtw #2]; ldr x20, [x21, w22, sxtw]
	ldrb w0, [x1]; ldrb w2, [x3, x4]; ldrb w5, [x6, x7, lsl #0]; ldrh w8, [x9, #6]; ldrsb x10, [x11]; ldrsb w12, [x13]
	ldrsh x14, [x15]; ldrsh w16, [x17, #2]; ldrsw x18, [x19, #4]; ldur x20, [x21, #-8]; ldurb w22, [x23, #1]; ldurh w24, [x25, #3]
	str x0, [x1]; str x2, [sp, #8]; str x3, [sp, #-32]!; str x4, [x5], #16; str w6, [x7, #4]; strb w8, [x9]; strh w10, [x11, x12]
	stur x13, [sp, #-8]; sturb w14, [x15, #1]; sturh wzr, [sp, #93]; str xzr, [x16, #8]
	ldp x0, x1, [sp]; ldp x2, x3, [sp, #16]!; ldp x4, x5, [x6], #32; stp x29, x30, [sp, #-16]!; stp x7, x8, [x9, #8]; stp xzr, xzr, [x10], #16
	ldp w11, w12, [x13]; stp w14, w15, [sp, #40]; ldpsw x16, x17, [x18]; ldnp x19, x20, [x21]; stnp x22, x23, [x24]
	ldr d0, [x1]; str d2, [sp, #168]; ldr s3, [x4]; str s5, [sp, #44]; ldr q16, [x2, #64]; str q17, [x1, #64]; ldr h6, [x7]; ldr b8, [x9]
	ldp d0, d1, [sp, #32]; stp d2, d3, [sp]; ldp q16, q17, [x1], #32; stp q18, q19, [x0], #32; ldp s4, s5, [x6]
	ldar x0, [x1]; ldar w2, [x3]; ldarb w4, [x5]; ldarh w6, [x7]; stlr x8, [x9]; stlr w10, [x11]; stlrb w12, [x13]; stlrh w14, [x15]
	ldaxr x0, [x1]; ldaxr w2, [x3]; ldaxrb w4, [x5]; stlxr w6, x7, [x8]; stlxr w9, w10, [x11]; stlxrb w12, w13, [x14]
	ldxr x0, [x1]; stxr w2, x3, [x4]; ldxp x5, x6, [x7]; stxp w8, x9, x10, [x11]; ldaxp w12, w13, [x14]; stlxp w15, w16, w17, [x18]
	ldaddal x0, x1, [x2]; ldadd w3, w4, [x5]; swpal x6, x7, [x8]; casal x9, x10, [x11]; ldclral w12, w13, [x14]; ldsetalb w15, w16, [x17]; ldeoral x18, x19, [x20]
	b .; bl .; b.eq .; b.ne .; b.cs .; b.cc .; b.hi .; b.ls .; b.ge .; b.lt .; b.gt .; b.le .; b.mi .; b.pl .
	cbz x0, .; cbnz w1, .; tbz w2, #0, .; tbnz x3, #63, .; br x4; blr x5; ret; ret x6
	adr x0, .; adrp x1, .; svc #0; brk #0; hvc #1; nop; yield; wfe; sev; isb; dsb sy; dsb ish; dmb ish; dmb ishld; dmb st; clrex
	mrs x0, midr_el1; mrs x1, tpidr_el0; msr tpidr_el0, x2; mrs x3, cntvct_el0; msr nzcv, x4; mrs x5, fpcr; msr fpcr, x6
	dc zva, x0; dc civac, x1; ic ivau, x2; prfm pldl1keep, [x0]; prfm pstl2strm, [x1, #64]
	fmov d0, d1; fmov s2, s3; fmov x4, d5; fmov d6, x7; fmov w8, s9; fmov s10, w11; fmov d12, #1.0; fmov s13, #-2.5; fmov d14, #0.125
	fadd d0, d1, d2; fsub s3, s4, s5; fmul d6, d7, d8; fdiv d9, d10, d11; fmax d12, d13, d14; fmin s15, s16, s17; fnmul d18, d19, d20
	fmadd d0, d1, d2, d3; fmsub s4, s5, s6, s7; fnmadd d8, d9, d10, d11; fnmsub d12, d13, d14, d15
	fabs d0, d1; fneg s2, s3; fsqrt d4, d5; frintz d6, d7; frinta s8, s9; frintm d10, d11; frintp d12, d13; frintn d14, d15
	fcmp d0, d1; fcmp s2, #0.0; fcmpe d3, d4; fccmp d5, d6, #4, ne; fcsel d7, d8, d9, gt
	fcvt s0, d1; fcvt d2, s3; fcvtzs x4, d5; fcvtzs w6, s7; fcvtzu x8, d9; scvtf d10, x11; scvtf s12, w13; ucvtf d14, w15; fcvtns x16, d17
	add v0.16b, v1.16b, v2.16b; sub v3.4s, v4.4s, v5.4s; and v6.16b, v7.16b, v8.16b; orr v9.16b, v10.16b, v11.16b; eor v12.8b, v13.8b, v14.8b
	mov v15.16b, v16.16b; cmeq v17.16b, v18.16b, v19.16b; addp v20.16b, v21.16b, v22.16b; uaddlv h23, v24.16b; cnt v25.8b, v26.8b
	dup v0.16b, w1; dup v2.4s, v3.s[1]; mov v4.d[0], x5; mov x6, v7.d[1]; umov w8, v9.b[3]; ins v10.s[1], v11.s[0]
	ld1 {v0.16b}, [x0]; ld1 {v1.16b, v2.16b}, [x1], #32; ld1 {v3.4s, v4.4s, v5.4s, v6.4s}, [x2], x3; st1 {v7.16b}, [x4]; st1 {v8.2d, v9.2d}, [x5], #32
	ld1r {v10.4s}, [x6]; ld4r {v11.4s, v12.4s, v13.4s, v14.4s}, [x7]; ld2 {v15.8h, v16.8h}, [x8]; st2 {v17.4s, v18.4s}, [x9]
	shl v0.4s, v1.4s, #12; ushr v2.2d, v3.2d, #7; sri v4.4s, v5.4s, #20; rev32 v6.8h, v7.8h; rev64 v8.16b, v9.16b; ext v10.16b, v11.16b, v12.16b, #8
	tbl v13.16b, {v14.16b}, v15.16b; zip1 v16.4s, v17.4s, v18.4s; uzp2 v19.8h, v20.8h, v21.8h; movi v22.16b, #0xff; movi v23.2d, #0
	aese v0.16b, v1.16b; aesmc v2.16b, v3.16b; aesd v4.16b, v5.16b; aesimc v6.16b, v7.16b; pmull v8.1q, v9.1d, v10.1d
	sha256h q0, q1, v2.4s; sha256su0 v3.4s, v4.4s; sha1c q5, s6, v7.4s; add d8, d9, d10; ushll v11.8h, v12.8b, #0; xtn v13.8b, v14.8h
	umaxv b15, v16.16b; uminv h17, v18.8h; addv s19, v20.4s; fadd v21.2d, v22.2d, v23.2d; fmla v24.4s, v25.4s, v26.4s
