#ifndef CROWDKIT_MOSQUITTO_READS_H
#define CROWDKIT_MOSQUITTO_READS_H

#include <stddef.h>

// Buffered socket reads for libmosquitto.
//
// libmosquitto 2.0 reads every packet with three read(2) calls (command byte, length, body), so a
// feed of small MV Sense messages costs three system calls per message, most of the client's CPU.
// ck_mosquitto_reads_install() points libmosquitto's own import of read(2) (its GOT slot, nothing
// else in the process) at a function that serves reads of one socket, on one thread, from a
// buffer filled with large reads. Every other read, on any thread, goes straight to read(2).

typedef struct ck_read_buffer ck_read_buffer;

/// Installs the hook once per process (only when asked: MQTTClient.Configuration.bufferedReads).
/// Returns 1 when libmosquitto's reads go through it; otherwise nothing changed and reads stay
/// unbuffered: 0 when it could not be installed (libmosquitto not found or linked statically),
/// -1 when libmosquitto also imports another way to read its socket (__read_chk, recv, recvfrom,
/// readv, recvmsg: a FORTIFY_SOURCE or LTO build, where buffered and unbuffered reads would mix),
/// -2 when it does not import read(2) at all.
int ck_mosquitto_reads_install(void);

ck_read_buffer *ck_read_buffer_create(size_t capacity);
void ck_read_buffer_destroy(ck_read_buffer *buffer);

/// Makes `buffer` serve the reads of the calling thread (NULL: none).
void ck_read_buffer_attach(ck_read_buffer *buffer);

/// The socket whose reads are buffered. A different socket than before drops what was buffered;
/// -1 drops it too and buffers nothing (before a reconnect, which may reuse the descriptor number).
void ck_read_buffer_track(ck_read_buffer *buffer, int fd);

/// Bytes read from the socket and not yet handed to libmosquitto.
size_t ck_read_buffer_pending(const ck_read_buffer *buffer);

/// read(2) calls made for the buffer so far.
unsigned long long ck_read_buffer_fills(const ck_read_buffer *buffer);

#endif
