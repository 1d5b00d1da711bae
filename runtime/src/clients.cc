#include "kstreams/runtime/clients.h"
