#ifndef CROWDKIT_CMOSQUITTO_SHIM_H
#define CROWDKIT_CMOSQUITTO_SHIM_H

// libmosquitto's public API (libmosquitto-dev). Swift imports the functions, callbacks and most
// constants directly; nothing here needs a shim function.
#include <mosquitto.h>

#endif
