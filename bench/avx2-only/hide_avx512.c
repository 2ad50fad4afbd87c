// LD_PRELOAD shim: makes this process see the CPU as AVX2-only (no AVX-512, no VNNI, no AMX), so ONNX Runtime's MLAS
// and .NET pick the kernels an AVX2-only CPU runs. It uses the kernel's CPUID faulting (ARCH_SET_CPUID, needs the
// `cpuid_fault` flag in /proc/cpuinfo): every CPUID instruction traps to SIGSEGV; the handler runs the real CPUID
// (faulting off for that instant) and clears the feature bits before returning. Threads inherit the setting.
// The hardware stays what it is: the code paths are AVX2's, the core executing them is this one.
// Programs that install their own SIGSEGV handler (the .NET runtime does, for null references) keep it: the shim's
// sigaction() records theirs and forwards every fault that is not a CPUID to it.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012

static struct sigaction chained; // the program's own SIGSEGV action, called for every other fault
static int installed;

static int real_sigaction(int sig, const struct sigaction *action, struct sigaction *old)
{
    static int (*real)(int, const struct sigaction *, struct sigaction *);
    if (!real) real = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    return real(sig, action, old);
}

int sigaction(int sig, const struct sigaction *action, struct sigaction *old)
{
    if (sig != SIGSEGV || !installed) return real_sigaction(sig, action, old);
    if (old) *old = chained;
    if (action) chained = *action;
    return 0;
}

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (leaf == 7 && sub == 0)
    {
        // EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31.
        r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        // ECX: VBMI 1, VBMI2 6, GFNI stays, VNNI 11, BITALG 12, VPOPCNTDQ 14.
        r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        // EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, AVX512-FP16 23, AMX-TILE 24, AMX-INT8 25.
        r[3] &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    }
    else if (leaf == 7 && sub == 1)
    {
        // EAX: AVX-VNNI 4, AVX512-BF16 5.
        r[0] &= ~((1u << 4) | (1u << 5));
    }
}

static void on_segv(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    const unsigned char *ip = (const unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
    if (ip[0] == 0x0f && ip[1] == 0xa2)
    {
        uint32_t leaf = (uint32_t)uc->uc_mcontext.gregs[REG_RAX], sub = (uint32_t)uc->uc_mcontext.gregs[REG_RCX], r[4];
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
        real_cpuid(leaf, sub, r);
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
        mask(leaf, sub, r);
        uc->uc_mcontext.gregs[REG_RAX] = r[0];
        uc->uc_mcontext.gregs[REG_RBX] = r[1];
        uc->uc_mcontext.gregs[REG_RCX] = r[2];
        uc->uc_mcontext.gregs[REG_RDX] = r[3];
        uc->uc_mcontext.gregs[REG_RIP] += 2;
        return;
    }
    // Not ours: the program's handler, else the default (a crash, as without the shim).
    if ((chained.sa_flags & SA_SIGINFO) && chained.sa_sigaction) chained.sa_sigaction(sig, info, context);
    else if (chained.sa_handler != SIG_IGN && chained.sa_handler != SIG_DFL) chained.sa_handler(sig);
    else
    {
        struct sigaction fallback;
        memset(&fallback, 0, sizeof fallback);
        fallback.sa_handler = SIG_DFL;
        real_sigaction(SIGSEGV, &fallback, NULL);
        installed = 0;
    }
}

__attribute__((constructor)) static void hide_avx512(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    real_sigaction(SIGSEGV, &action, &chained);
    installed = 1;
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0)
    {
        fprintf(stderr, "hide_avx512: CPUID faulting is not available here (no cpuid_fault flag); the CPU is shown as it is\n");
        exit(97);
    }
}
