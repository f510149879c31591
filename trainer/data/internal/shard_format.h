// Encoding of the binary shard format (docs/data.md). Little-endian only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "trainer/data/batch.h"
#include "trainer/data/shard.h"

namespace msrec::internal {

inline constexpr char kShardMagic[8] = {'M', 'S', 'R', 'E', 'C', 'S', 'H', 'D'};
inline constexpr uint32_t kShardVersion = 1;
inline constexpr uint32_t kBlockMagic = 0x4B42534D;  // "MSBK"
inline constexpr size_t kFileHeaderFixed = 16;       // magic, version, body length
inline constexpr size_t kBlockHeaderBytes = 24;
inline constexpr uint32_t kFlagInstanceId = 1;
inline constexpr uint32_t kFlagOracle = 2;

// The file header: magic, version, body length, body, CRC32C of all before.
std::string EncodeFileHeader(const ShardLayout& layout);
// Parses a header body (after the 16 fixed bytes; CRC already checked).
Result<ShardLayout> DecodeFileHeaderBody(std::string_view body, const std::string& path);

struct BlockHeader {
  uint32_t num_rows = 0;  // 0 marks the end block
  uint64_t payload_bytes = 0;
  uint32_t payload_crc = 0;
};
void EncodeBlockHeader(const BlockHeader& h, char out[kBlockHeaderBytes]);
// False if the magic or the header CRC is wrong.
bool DecodeBlockHeader(const char in[kBlockHeaderBytes], BlockHeader* h);

// Appends rows [begin, end) of `batch` as a block payload.
void EncodePayload(const Batch& batch, int64_t begin, int64_t end, std::string* payload);
// Decodes a payload of `rows` rows into `out` (layout fields already set).
// False if the sizes do not add up.
bool DecodePayload(std::string_view payload, int64_t rows, uint32_t flags, Batch* out);

uint32_t LayoutFlags(const Schema& schema);

}  // namespace msrec::internal
