/*
 * snccl.h -- snccl's extensions to the NCCL API.
 *
 * Everything here is optional: programs that include only nccl.h run
 * unchanged. Extensions are declared here as they land; callers test
 * SNCCL_VERSION_CODE before using one.
 */
#ifndef SNCCL_H_
#define SNCCL_H_

#include "nccl.h"

#define SNCCL_MAJOR 0
#define SNCCL_MINOR 1
#define SNCCL_PATCH 0
#define SNCCL_VERSION_CODE (SNCCL_MAJOR * 10000 + SNCCL_MINOR * 100 + SNCCL_PATCH)

#endif /* SNCCL_H_ */
