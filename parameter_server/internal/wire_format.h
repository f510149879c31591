// The parameter server's wire format, version 1 (docs/parameter_server.md,
// "Wire format"). Every message is one MPI message of bytes, little-endian:
//
//   request  = RequestHeader (48 bytes) | table name, zero-padded to 8 | keys (num_keys x u64)
//              | payload (push: num_keys x dim f32; create: table config text)
//   reply    = ReplyHeader (32 bytes) | error message | floats (pull: num_keys x dim f32)
//
// Decoding checks everything before a byte of the body is used: magic,
// version, type, name length, that num_keys and dim fit the limits, and that
// the message is exactly as long as its header says. A message that fails
// gets an error reply; it never reaches a table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "parameter_server/table_config.h"

namespace msrec {

inline constexpr uint32_t kWireMagic = 0x5350534D;  // "MSPS"
inline constexpr uint16_t kWireVersion = 1;
inline constexpr size_t kRequestHeaderBytes = 48;
inline constexpr size_t kReplyHeaderBytes = 32;
inline constexpr uint32_t kMaxTableNameBytes = 255;
inline constexpr uint32_t kMaxDim = 1 << 16;

enum class RequestType : uint16_t {
  kCreateTable = 1,  // payload: EncodeTableConfig text; reply: status
  kPull = 2,         // keys; reply: num_keys x dim floats
  kPush = 3,         // keys + gradients at `step`; reply: status once applied
  kFlush = 4,        // reply: status once the shard's store is durable
  kDone = 5,         // the worker will send nothing more; reply: status
  kStats = 6,        // reply: the server's statistics as text in the message
  kEvict = 7,        // TTL eviction at `step`; reply: status
  kCheckpoint = 8,   // payload: a directory; the server flushes and writes its rows
                     // there: server-<index>.rocksdb (a RocksDB checkpoint) or
                     // server-<index>.bin (a dump, memory store); reply: status
  kRestore = 9,      // payload: a checkpoint directory; the server loads the rows of
                     // its buckets from every server-* part there and takes `step`
                     // as the last applied step; reply: status
  kDropTable = 10,   // the table and its rows are removed; reply: status (refused while a
                     // synchronous step of it is incomplete)
};

struct RequestHeader {
  uint32_t magic = kWireMagic;
  uint16_t version = kWireVersion;
  RequestType type = RequestType::kPull;
  uint32_t request_id = 0;  // echoed in the reply; picks the reply tag
  int32_t worker = 0;       // index of the sending worker
  int64_t step = 0;         // push: the global step; pull: the step the rows are for (0: any)
  uint64_t num_keys = 0;
  uint32_t dim = 0;         // floats per key in the payload or the reply
  uint32_t name_bytes = 0;  // length of the table name after the header
  uint32_t payload_bytes = 0;  // bytes after the keys (push: num_keys*dim*4)
  uint32_t reserved = 0;
};

// A decoded request: views into the message it was decoded from.
struct RequestView {
  RequestHeader header;
  std::string_view table;
  const uint64_t* keys = nullptr;    // num_keys (8-byte aligned: the name is padded)
  const float* floats = nullptr;     // push gradients: num_keys x dim
  std::string_view payload;          // the raw payload (create: config text)
};

struct ReplyHeader {
  uint32_t magic = kWireMagic;
  uint16_t version = kWireVersion;
  uint16_t type = 0;         // the request's type | 0x100
  uint32_t request_id = 0;
  uint32_t status_code = 0;  // Status::Code
  uint64_t num_floats = 0;
  uint32_t message_bytes = 0;
  uint32_t reserved = 0;
};

// Limits a decoder enforces (besides exact sizes).
struct WireLimits {
  uint64_t max_keys = 1u << 24;  // keys per request
};

// Builds a request; `floats` (num_keys*dim, may be null) and `payload` follow the keys.
// Whether a request of `num_keys` keys of `dim` floats (with_floats: a push)
// plus `payload_bytes` fits the wire format (the payload size is 32 bits).
bool RequestFits(uint64_t num_keys, uint32_t dim, bool with_floats, size_t payload_bytes);

std::string EncodeRequest(const RequestHeader& header, std::string_view table,
                          const uint64_t* keys, const float* floats, std::string_view payload);

// Decodes `bytes` (which must stay alive while `out` is used and be 8-byte
// aligned, as std::string data is). InvalidArgument saying what is wrong.
Status DecodeRequest(std::string_view bytes, const WireLimits& limits, RequestView* out);

// Reads just the request id of a message, if its first bytes are a valid
// header prefix (to address an error reply); false otherwise.
bool PeekRequestId(std::string_view bytes, uint32_t* request_id);

// Builds a reply. Its message is the status's message, or `text` when the
// status is OK (kStats carries its text there).
std::string EncodeReply(uint16_t type, uint32_t request_id, const Status& status,
                        const float* floats, uint64_t num_floats, std::string_view text = {});

// Decodes a reply; the Status it carries goes to `*carried`, the floats are
// copied into `floats` (exactly `expected_floats` of them when the carried
// status is OK), the text of an OK reply into `*text` when not null.
// InvalidArgument if the reply itself is malformed.
Status DecodeReply(std::string_view bytes, uint32_t expected_id, uint64_t expected_floats,
                   float* floats, Status* carried, std::string* text = nullptr);

// The text form of a table config carried by kCreateTable ("key=value;...").
std::string EncodeTableConfig(const TableConfig& config);
Status DecodeTableConfig(std::string_view text, TableConfig* config);

// The request's reply tag: kFirstReplyTag + id modulo a range every MPI allows.
int ReplyTag(uint32_t request_id);

}  // namespace msrec
