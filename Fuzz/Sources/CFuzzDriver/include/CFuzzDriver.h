#include <stddef.h>
#include <stdint.h>
/// libFuzzer's driver (LLVM 11+), for entry points that are not libFuzzer's own main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
