#include "kstreams/topology/topology_exception.h"
