/*
 * crc32c.h -- CRC32C (Castagnoli), as in iSCSI/ext4: the checksum of
 * SNCCL_CHECKSUM=crc32c. sn_crc32c() picks the SSE4.2 instruction when the
 * CPU has it, else a portable slicing-by-8 table; both give the same value.
 * crc = 0 starts a checksum; feed the previous result to continue one.
 */
#ifndef SN_CRC32C_H
#define SN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t sn_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t sn_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Falls back to the table where the instruction is absent. */
uint32_t sn_crc32c_hw(uint32_t crc, const void *buf, size_t len);
int sn_crc32c_hw_available(void);

#endif
