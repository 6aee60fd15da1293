#ifndef CVIGILHINTS_H
#define CVIGILHINTS_H

// CPU hints for the pure code in VigilCore: no system calls, no state. Header only, so the
// Swift optimizer inlines each hint into its caller as a single instruction.

/// Asks the CPU to start loading the cache line at `address` for writing. A hint only:
/// it never faults, whatever `address` is, and changes no result.
static inline __attribute__((always_inline)) void vigil_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
