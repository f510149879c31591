// Small POSIX file-system helpers. msrec uses these instead of std::filesystem
// in every binary that links LibTorch: PyTorch 2.x wheels export their own
// std::filesystem symbols, and remove_all bound to them crashed (seen on the
// GPU machine's LibTorch 2.11).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace msrec {

// mkdir -p: creates `path` and its missing parents (0755). OK if it exists.
Status MakeDirs(const std::string& path);

// rm -rf: removes `path` and everything under it. OK if it does not exist.
Status RemoveTree(const std::string& path);

// True if `path` exists (any kind of file).
bool PathExists(const std::string& path);

// Names (not paths) of the entries of directory `dir`, sorted; "." and ".."
// excluded. IoError if it cannot be read.
Result<std::vector<std::string>> ListDir(const std::string& dir);

// Writes `data` to `path` durably: into path.tmp, fsync, rename over `path`,
// fsync of the directory. Readers see the old file or the whole new one.
Status WriteFileDurably(const std::string& path, const std::string& data);

// The whole content of `path`. IoError naming it if it cannot be read.
Result<std::string> ReadFile(const std::string& path);

// Size and CRC-32C of the file at `path`, read in 1 MiB pieces (bounded
// memory for files of any size). IoError naming it if it cannot be read.
struct FileChecksum {
  uint64_t size = 0;
  uint32_t crc32c = 0;
};
Result<FileChecksum> ChecksumFile(const std::string& path);

// fsync of a file or directory (make a written file or a rename durable).
Status SyncPath(const std::string& path);

}  // namespace msrec
