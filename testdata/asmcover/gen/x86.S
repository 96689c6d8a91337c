# A broad spread of x86-64 encodings for goscope's decoder-coverage test (AT&T syntax).
# gen.sh assembles this with GNU as and writes the bytes into cover_amd64.s as BYTE lines.
	.text
	mov %rax,%rbx; mov %eax,%ebx; mov %ax,%bx; mov %al,%bl; mov %ah,%bh; mov %sil,%dil
	mov $0x12345678,%eax; mov $-1,%rax; movabs $0x1122334455667788,%r9; mov $7,%r10b
	mov 0x10(%rsp),%rax; mov -8(%rbp),%ecx; mov (%rax,%rbx,8),%rdx; mov 0x100(%r12,%r13,4),%r14
	mov %rax,0x7fffffff(%rip); mov %fs:0xfffffffffffffff8,%r14; mov %gs:0x30,%rax
	movzbl (%rax),%ecx; movzwl %ax,%edx; movsbq %al,%rcx; movswq (%rdx),%rax; movslq %eax,%rdx
	lea 0x8(%rsp),%rbp; lea (%rax,%rax,2),%rcx; lea -1(%rip),%rax; lea 0x10(,%rcx,8),%rdx
	add %rax,%rbx; add $1,%rax; add $0x1000,%rax; add $-128,%rcx; add %al,(%rbx); adc $3,%edx
	sub %r8,%r9; sub $0x7f,%eax; sbb %rax,%rax; cmp %rax,%rbx; cmp $0x10,%rax; cmpb $0x2c,%dl
	cmpl $0,0x10(%rip); test %rax,%rax; test $1,%dl; testb $0x80,0x10(%rax); test %al,(%rax)
	and %rax,%rbx; and $0xfffffff0,%esp; or $1,%al; xor %eax,%eax; xor %r15,%r15; not %rcx; neg %rdx
	inc %rax; dec %ecx; incb (%rax); decw 2(%rbx)
	imul %rdx; imul %rax,%rcx; imul $0x13441,%rcx,%rdi; imul $3,%eax,%edx; mul %rcx; div %rbx; idiv %ecx
	shl $4,%rcx; shl %cl,%rsi; shr $1,%rax; sar $63,%rdx; rol $8,%eax; ror %cl,%ebx; rcl $1,%rax; rcr $2,%cl
	shld $3,%rax,%rbx; shrd %cl,%rdx,%rax; bt $5,%rax; bts %rcx,%rdx; btrq $1,(%rax); btc %eax,%ebx
	bsf %rax,%rcx; bsr %rdx,%rax; popcnt %rax,%rbx; lzcnt %rax,%rbx; tzcnt %rcx,%rdx; bswap %eax; bswap %r8
	cmove %rax,%rbx; cmovne %ecx,%edx; cmovl %r8,%r9; cmova (%rax),%rcx; sete %al; setne %r10b; setg (%rax)
	xchg %rax,(%rbx); xchg %eax,%ecx; xchg %bl,(%rcx); lock xadd %rax,(%rdx); lock cmpxchg %rbx,(%rcx)
	lock cmpxchg16b (%rax); lock incq (%rax); lock orb %cl,(%rax); lock andl $1,(%rbx)
	push %rbp; pop %rbp; push $8; push $0x12345678; pushq 8(%rax); popq (%rax); pushfq; popfq
	call *%rax; call *0x10(%rbx); jmp *%rcx; jmp *(%rdx,%rcx,8); ret; ret $8; leave; enter $0x10,$0
	nop; xchg %ax,%ax; nopl (%rax); nopl 0(%rax,%rax,1); nopw 0(%rax,%rax,1); pause; int3; int $0x80; ud2; hlt
	rep movsb; rep stosq; rep movsq; repne scasb; movsb; stosl; lodsq; cmpsb; cld; std; clc; stc; cmc
	cqo; cdq; cltq; cwtl; cbtw; xlat; lahf; sahf; cpuid; rdtsc; rdtscp; syscall; mfence; lfence; sfence
	movups %xmm0,(%rax); movups 0x10(%rsp),%xmm15; movaps %xmm1,%xmm2; movdqu (%rsi),%xmm0; movdqa %xmm3,(%rdi)
	movsd %xmm0,0x8(%rsp); movsd (%rax),%xmm1; movss %xmm2,%xmm3; movq %rax,%xmm0; movq %xmm1,%rcx; movd %eax,%xmm2
	addsd %xmm1,%xmm0; subsd (%rax),%xmm2; mulsd %xmm3,%xmm4; divsd %xmm5,%xmm6; sqrtsd %xmm0,%xmm1; minsd %xmm2,%xmm3
	addss %xmm1,%xmm0; mulps %xmm2,%xmm3; addpd %xmm4,%xmm5; xorps %xmm0,%xmm0; andpd %xmm1,%xmm2; orps %xmm3,%xmm4
	ucomisd %xmm1,%xmm0; comiss %xmm2,%xmm3; cvtsi2sd %rax,%xmm0; cvtsi2sdl (%rax),%xmm1; cvttsd2si %xmm0,%rsi
	cvtsd2ss %xmm0,%xmm1; cvtss2sd %xmm2,%xmm3; cvttss2si %xmm4,%eax; cvtsd2si %xmm5,%rdx; roundsd $3,%xmm0,%xmm1
	pxor %xmm0,%xmm0; pcmpeqb %xmm1,%xmm2; pmovmskb %xmm2,%eax; pshufd $0,%xmm0,%xmm0; pshufb %xmm1,%xmm2
	punpcklbw %xmm0,%xmm0; paddd %xmm1,%xmm2; psrld $4,%xmm3; pslldq $8,%xmm4; pand %xmm5,%xmm6; por (%rax),%xmm7
	pinsrq $1,(%rax),%xmm0; pextrq $1,%xmm0,%rax; pinsrw $2,%eax,%xmm1; pcmpestri $0xc,(%rdi),%xmm1; pclmulqdq $0,%xmm1,%xmm2
	aesenc %xmm0,%xmm1; aesenclast %xmm2,%xmm3; aesdec %xmm4,%xmm5; aeskeygenassist $1,%xmm0,%xmm1; sha256rnds2 %xmm0,%xmm1,%xmm2
	prefetcht0 (%rax); prefetchnta 0x40(%rbx); clflush (%rax); movnti %rax,(%rbx); movntdq %xmm0,(%rax)
	vmovdqu (%rsi),%ymm0; vmovdqu %ymm1,(%rdi); vmovdqa %ymm2,%ymm3; vmovntdq %ymm0,(%rax); vzeroupper
	vpcmpeqb %ymm0,%ymm1,%ymm2; vpmovmskb %ymm2,%eax; vpxor %ymm0,%ymm0,%ymm0; vpbroadcastb %xmm0,%ymm1
	vpand %ymm1,%ymm2,%ymm3; vptest %ymm0,%ymm0; vmovdqu 0x20(%r8),%ymm4; vmovdqu (%r9,%r10,1),%ymm5
	andn %rax,%rbx,%rcx; blsr %rax,%rbx; shlx %rax,%rbx,%rcx; sarx %rcx,%rdx,%rax; rorx $3,%rax,%rbx; pdep %rax,%rbx,%rcx
	vmovdqu64 (%rax),%zmm0; vpxorq %zmm1,%zmm1,%zmm1; kmovq %k1,%rax; vpcmpeqb %zmm0,%zmm1,%k1
	fld1; fldz; fldl (%rax); fstpl (%rbx); faddp; fmulp; fdivrp; fchs; fabs; fsqrt; fxch; fnstcw (%rax); fldcw (%rax)
	fbld (%rax); frstor (%rax); fnsave (%rax); fldenv (%rax); fnstenv (%rax); fxsave (%rax); fxrstor (%rax)
	in %dx,%eax; in $0x48,%al; out %al,$0x62; out %eax,%dx; insb; outsl
	# Segment prefixes as x86asm weighs them: in 64-bit mode CS/DS/ES/SS do nothing (shown as a
	# prefix), only the last FS/GS is in effect, a superseded one is shown as a prefix.
	.byte 0x36, 0x65, 0x6f
	.byte 0x66, 0x36, 0x4b, 0x6f
	.byte 0x65, 0x64, 0x8b, 0x00
	.byte 0x3e, 0x65, 0x8b, 0x00
	.byte 0x36, 0xac
	.byte 0x64, 0x36, 0xa4
	.byte 0x26, 0x8b, 0x00
	rdrand %rax; rdseed %rbx; xgetbv; crc32b %al,%ecx; crc32q %rax,%rcx; movbe (%rax),%rcx
	adcx %rax,%rbx; adox %rcx,%rdx; mulx %rax,%rbx,%rcx
