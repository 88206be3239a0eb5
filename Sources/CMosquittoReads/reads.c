#define _GNU_SOURCE
#include "crowdkit_mosquitto_reads.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct ck_read_buffer {
    int fd;
    size_t pos;
    size_t len;
    size_t cap;
    unsigned long long fills;
    unsigned char *data;
};

static __thread ck_read_buffer *current;

/// libmosquitto's read(2): buffered for the tracked socket on a thread with a buffer attached.
static ssize_t buffered_read(int fd, void *dst, size_t count) {
    ck_read_buffer *b = current;
    if (b == NULL || fd != b->fd || fd < 0 || count == 0) return read(fd, dst, count);
    if (b->pos == b->len) {
        // A large body goes straight to its destination.
        if (count >= b->cap) return read(fd, dst, count);
        ssize_t n = read(fd, b->data, b->cap);
        if (n <= 0) return n;  // 0 (closed) or -1 with errno (EAGAIN, ECONNRESET, ...)
        __atomic_add_fetch(&b->fills, 1, __ATOMIC_RELAXED);
        b->pos = 0;
        b->len = (size_t)n;
    }
    size_t available = b->len - b->pos;
    size_t k = count < available ? count : available;
    memcpy(dst, b->data + b->pos, k);
    b->pos += k;
    return (ssize_t)k;
}

ck_read_buffer *ck_read_buffer_create(size_t capacity) {
    ck_read_buffer *b = calloc(1, sizeof *b);
    if (b == NULL) return NULL;
    b->cap = capacity < 4096 ? 4096 : capacity;
    b->data = malloc(b->cap);
    if (b->data == NULL) {
        free(b);
        return NULL;
    }
    b->fd = -1;
    return b;
}

void ck_read_buffer_destroy(ck_read_buffer *b) {
    if (b == NULL) return;
    if (current == b) current = NULL;
    free(b->data);
    free(b);
}

void ck_read_buffer_attach(ck_read_buffer *b) { current = b; }

void ck_read_buffer_track(ck_read_buffer *b, int fd) {
    if (b == NULL || (fd == b->fd && fd >= 0)) return;
    b->fd = fd;
    b->pos = 0;
    b->len = 0;
}

size_t ck_read_buffer_pending(const ck_read_buffer *b) { return b == NULL ? 0 : b->len - b->pos; }

unsigned long long ck_read_buffer_fills(const ck_read_buffer *b) {
    return b == NULL ? 0 : __atomic_load_n(&b->fills, __ATOMIC_RELAXED);
}

// MARK: - Pointing libmosquitto's read import at buffered_read

static uintptr_t relocated(uintptr_t value, uintptr_t base) {
    // The dynamic loader relocates these entries in place on most targets; not on all.
    return value != 0 && value < base ? value + base : value;
}

/// Whether these relocations import another way to read a socket than read(2): then buffered and
/// unbuffered reads could mix on the same stream, so nothing is patched.
static int imports_other_reads(const ElfW(Rela) *rela, size_t size, const ElfW(Sym) *symtab, const char *strtab,
                               size_t strsz) {
    static const char *const others[] = {"__read_chk", "recv", "recvfrom", "readv", "recvmsg", "__recv_chk", "__recvfrom_chk"};
    for (size_t i = 0; rela != NULL && i < size / sizeof *rela; i++) {
        const ElfW(Sym) *sym = &symtab[ELF64_R_SYM(rela[i].r_info)];
        if (sym->st_name >= strsz) continue;
        for (size_t k = 0; k < sizeof others / sizeof *others; k++) {
            if (strcmp(strtab + sym->st_name, others[k]) == 0) return 1;
        }
    }
    return 0;
}

/// Whether these relocations import read(2).
static int imports_read(const ElfW(Rela) *rela, size_t size, const ElfW(Sym) *symtab, const char *strtab, size_t strsz) {
    for (size_t i = 0; rela != NULL && i < size / sizeof *rela; i++) {
        const ElfW(Sym) *sym = &symtab[ELF64_R_SYM(rela[i].r_info)];
        if (sym->st_name < strsz && strcmp(strtab + sym->st_name, "read") == 0) return 1;
    }
    return 0;
}

static int patch_slots(uintptr_t base, const ElfW(Rela) *rela, size_t size, const ElfW(Sym) *symtab,
                       const char *strtab, size_t strsz, uintptr_t relro_start, uintptr_t relro_end) {
    int patched = 0;
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; rela != NULL && i < size / sizeof *rela; i++) {
        unsigned long type = ELF64_R_TYPE(rela[i].r_info);
#if defined(__x86_64__)
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
#elif defined(__aarch64__)
        if (type != R_AARCH64_JUMP_SLOT && type != R_AARCH64_GLOB_DAT) continue;
#else
        (void)type;
        continue;
#endif
        const ElfW(Sym) *sym = &symtab[ELF64_R_SYM(rela[i].r_info)];
        if (sym->st_name >= strsz || strcmp(strtab + sym->st_name, "read") != 0) continue;
        void **slot = (void **)(base + rela[i].r_offset);
        uintptr_t first = (uintptr_t)slot & ~(uintptr_t)(page - 1);
        int inRelro = (uintptr_t)slot >= relro_start && (uintptr_t)slot < relro_end;
        // RELRO pages are read-only once relocated: writable for the store, then read-only again
        if (inRelro && mprotect((void *)first, (size_t)page, PROT_READ | PROT_WRITE) != 0) continue;
        __atomic_store_n(slot, (void *)&buffered_read, __ATOMIC_SEQ_CST);
        if (inRelro) mprotect((void *)first, (size_t)page, PROT_READ);
        patched += 1;
    }
    return patched;
}

static int patch_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libmosquitto.so") == NULL) return 0;
    uintptr_t base = info->dlpi_addr;
    const ElfW(Dyn) *dyn = NULL;
    uintptr_t relro_start = 0, relro_end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(base + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            relro_start = base + ph->p_vaddr;
            relro_end = relro_start + ph->p_memsz;
        }
    }
    if (dyn == NULL) return 0;
    uintptr_t symtab = 0, strtab = 0, jmprel = 0, rela = 0;
    size_t strsz = 0, pltrelsz = 0, relasz = 0;
    long pltrel = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = d->d_un.d_ptr; break;
        case DT_STRTAB: strtab = d->d_un.d_ptr; break;
        case DT_STRSZ: strsz = d->d_un.d_val; break;
        case DT_JMPREL: jmprel = d->d_un.d_ptr; break;
        case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
        case DT_PLTREL: pltrel = (long)d->d_un.d_val; break;
        case DT_RELA: rela = d->d_un.d_ptr; break;
        case DT_RELASZ: relasz = d->d_un.d_val; break;
        default: break;
        }
    }
    symtab = relocated(symtab, base);
    strtab = relocated(strtab, base);
    jmprel = relocated(jmprel, base);
    rela = relocated(rela, base);
    if (symtab == 0 || strtab == 0) return 0;
    const ElfW(Rela) *plt = pltrel == DT_RELA ? (const ElfW(Rela) *)jmprel : NULL;
    const ElfW(Sym) *syms = (const ElfW(Sym) *)symtab;
    const char *strs = (const char *)strtab;
    // Only a libmosquitto that reads its socket with read(2) alone is patched.
    if (imports_other_reads(plt, pltrelsz, syms, strs, strsz) ||
        imports_other_reads((const ElfW(Rela) *)rela, relasz, syms, strs, strsz)) {
        *(int *)data = -1;
        return 1;
    }
    if (!imports_read(plt, pltrelsz, syms, strs, strsz) && !imports_read((const ElfW(Rela) *)rela, relasz, syms, strs, strsz)) {
        *(int *)data = -2;
        return 1;
    }
    int patched = 0;
    if (pltrel == DT_RELA)
        patched += patch_slots(base, (const ElfW(Rela) *)jmprel, pltrelsz, (const ElfW(Sym) *)symtab,
                               (const char *)strtab, strsz, relro_start, relro_end);
    patched += patch_slots(base, (const ElfW(Rela) *)rela, relasz, (const ElfW(Sym) *)symtab,
                           (const char *)strtab, strsz, relro_start, relro_end);
    *(int *)data += patched;
    return 1;  // the one libmosquitto: stop
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int installed;

static void install(void) {
    int patched = 0;
    dl_iterate_phdr(patch_object, &patched);
    installed = patched > 0 ? 1 : (patched < 0 ? patched : 0);
}

int ck_mosquitto_reads_install(void) {
    pthread_once(&once, install);
    return installed;
}

#else  // no ELF GOT to patch here: reads stay unbuffered

struct ck_read_buffer {
    int fd;
};

int ck_mosquitto_reads_install(void) { return 0; }
ck_read_buffer *ck_read_buffer_create(size_t capacity) {
    (void)capacity;
    return calloc(1, sizeof(ck_read_buffer));
}
void ck_read_buffer_destroy(ck_read_buffer *b) { free(b); }
void ck_read_buffer_attach(ck_read_buffer *b) { (void)b; }
void ck_read_buffer_track(ck_read_buffer *b, int fd) { (void)b; (void)fd; }
size_t ck_read_buffer_pending(const ck_read_buffer *b) { (void)b; return 0; }
unsigned long long ck_read_buffer_fills(const ck_read_buffer *b) { (void)b; return 0; }

#endif
