#ifndef CVIGILSHIM_H
#define CVIGILSHIM_H

// Linux declarations that Swift's Glibc module does not export, plus thin
// wrappers for variadic or macro-based calls that Swift cannot call directly.

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <pthread.h>

/// fcntl(fd, F_SETFL, flags | O_NONBLOCK); returns -1 with errno on failure.
int vigil_set_nonblocking(int fd);

/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int vigil_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len);

/// Same layout as the kernel's `struct mmsghdr` (declared here so no _GNU_SOURCE is needed).
struct vigil_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// recvmmsg without a timeout.
int vigil_recvmmsg(int fd, struct vigil_mmsghdr *vec, unsigned int vlen, int flags);

/// sendmmsg.
int vigil_sendmmsg(int fd, struct vigil_mmsghdr *vec, unsigned int vlen, int flags);

/// Blocks the given signal in the calling thread (so a signalfd can read it).
int vigil_block_signal(int signo);

/// Ignores SIGPIPE process-wide so a closed peer turns into EPIPE, not death.
void vigil_ignore_sigpipe(void);

/// Names a thread (at most 15 bytes are kept), for `top -H` and /proc.
int vigil_set_thread_name(pthread_t thread, const char *name);

/// The CPUs this process may run on (its affinity mask), or -1 when it cannot be read.
int vigil_cpus_allowed(void);

/// malloc_trim(0): hands freed heap memory back to the kernel (glibc keeps it otherwise).
int vigil_malloc_trim(void);

/// fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length): frees the file's
/// blocks in that range (reads of it then give zeros) without changing its size or other offsets.
int vigil_punch_hole(int fd, long long offset, long long length);

/// Attaches to the SO_REUSEPORT group of `fd` (one that other sockets joined) a classic BPF program
/// that gives each datagram to the group's socket number hash(source address) % `sockets`
/// (sockets numbered in the order they were bound), so all of one sender's datagrams go to one
/// socket whatever its source port. 0 on success, -1 with errno.
int vigil_spread_by_source(int fd, unsigned int sockets);

#endif
