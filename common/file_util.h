// Small POSIX file-system helpers. msrec uses these instead of std::filesystem
// in every binary that links LibTorch: PyTorch 2.x wheels export their own
// std::filesystem symbols, and remove_all bound to them crashed (seen on the
// GPU machine's LibTorch 2.11).
#pragma once

#include <string>

#include "common/status.h"

namespace msrec {

// mkdir -p: creates `path` and its missing parents (0755). OK if it exists.
Status MakeDirs(const std::string& path);

// rm -rf: removes `path` and everything under it. OK if it does not exist.
Status RemoveTree(const std::string& path);

// True if `path` exists (any kind of file).
bool PathExists(const std::string& path);

}  // namespace msrec
