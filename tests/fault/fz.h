/*
 * fz.h -- the libFuzzer entry points every harness in tests/fault/fz_*.c
 * defines. Built two ways: with clang -fsanitize=fuzzer (tests/fault/fuzz.sh)
 * and with the project's compiler plus fz_main.c, which replays corpus files
 * (make check: tests/fault/fuzz-replay.sh).
 */
#ifndef SN_FZ_H
#define SN_FZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: harnesses that set the environment before the library reads it. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
