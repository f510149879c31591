// Small `key=value` text files (job.txt, ssim.txt): one pair per line, empty
// lines skipped, a first line `format=N` checked against the expected version.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"

namespace msrec {

// Calls `apply(key, value)` for every line of `path` after `format=...`.
// `apply` returns false for an unknown key and may throw std::exception for a
// bad value; both become Corruption naming path:line. NotFound (with `what`
// as a hint, e.g. "a model directory") if the file cannot be opened.
Status ReadKeyValueFile(const std::string& path, const std::string& what, int format,
                        const std::function<bool(const std::string& key,
                                                 const std::string& value)>& apply);

}  // namespace msrec
