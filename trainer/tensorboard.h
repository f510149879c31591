// TensorBoard event files, written without TensorFlow: each record is
//   uint64 length | uint32 masked CRC-32C of length | Event proto | uint32 masked CRC-32C of it
// (little endian; mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8), and each Event is
// hand-encoded protobuf: wall_time (1, double), step (2, int64), file_version (3, string,
// first record "brain.Event:2") or summary (5) with Summary.value (1) = {tag (1, string),
// simple_value (2, float)}. TensorBoard reads the files of --tensorboard_dir as a run.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace msrec {

// Appends scalar events to events.out.tfevents.<time>.<host> in a directory.
// Not thread-safe.
class EventWriter {
 public:
  // Creates `dir` and a new event file in it.
  static Result<std::unique_ptr<EventWriter>> Open(const std::string& dir);
  ~EventWriter();

  // One scalar `tag` at `step` (wall time: now).
  Status AddScalar(const std::string& tag, int64_t step, double value);
  Status Flush();
  const std::string& path() const { return path_; }

 private:
  EventWriter(std::string path, FILE* file) : path_(std::move(path)), file_(file) {}
  Status WriteRecord(const std::string& event);

  std::string path_;
  FILE* file_;
};

// A scalar read back from an event file.
struct ScalarEvent {
  std::string tag;
  int64_t step = 0;
  float value = 0;
  double wall_time = 0;
};

// Decodes every record of an event file, checking both CRCs of each
// (Corruption names the record); returns the scalars (the version record has
// none). `version` receives the file_version string when not null.
Result<std::vector<ScalarEvent>> ReadScalarEvents(const std::string& path,
                                                  std::string* version = nullptr);

}  // namespace msrec
