#define _GNU_SOURCE 1
#include "CVigilShim.h"
#include <sys/resource.h>
#include <malloc.h>
#include <linux/filter.h>
#include <errno.h>

_Static_assert(sizeof(struct vigil_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
#include <pthread.h>
#include <sched.h>

int vigil_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int vigil_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int vigil_recvmmsg(int fd, struct vigil_mmsghdr *vec, unsigned int vlen, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)vec, vlen, flags, NULL);
}

int vigil_sendmmsg(int fd, struct vigil_mmsghdr *vec, unsigned int vlen, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)vec, vlen, flags);
}

int vigil_block_signal(int signo) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void vigil_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
}

int vigil_set_thread_name(pthread_t thread, const char *name) {
    return pthread_setname_np(thread, name);
}

int vigil_malloc_trim(void) {
    return malloc_trim(0);
}

int vigil_punch_hole(int fd, long long offset, long long length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

int vigil_cpus_allowed(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return CPU_COUNT(&set);
}

int vigil_spread_by_source(int fd, unsigned int sockets) {
    if (sockets == 0) { errno = EINVAL; return -1; }
    struct sock_filter code[] = {
        /* the IP version, from the network header */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF + 0),
        BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 3),
        /* IPv4: the source address */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, sockets),
        BPF_STMT(BPF_RET | BPF_A, 0),
        /* IPv6: the source address's four words, xored */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 8),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 16),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 20),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, sockets),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog program = { .len = sizeof code / sizeof code[0], .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program);
}
