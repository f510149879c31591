#include "trainer/data/reader.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <glog/logging.h>

#include "trainer/data/csv_reader.h"
#include "trainer/data/internal/byte_source.h"
#include "trainer/data/internal/csv_split.h"
#include "trainer/data/shard.h"

namespace msrec {

const char* BadRowKindName(BadRowKind kind) {
  switch (kind) {
    case BadRowKind::kColumnCount:
      return "column_count";
    case BadRowKind::kBadNumber:
      return "bad_number";
    case BadRowKind::kBadLabel:
      return "bad_label";
    case BadRowKind::kUnknownScenario:
      return "unknown_scenario";
    case BadRowKind::kBadQuote:
      return "bad_quote";
    case BadRowKind::kNumKinds:
      break;
  }
  return "?";
}

int64_t ReaderStats::total_bad() const {
  int64_t n = 0;
  for (int64_t v : rows_bad) n += v;
  return n;
}

std::string ReaderStats::ToString() const {
  std::string s = "rows_ok=" + std::to_string(rows_ok) + " rows_bad=" + std::to_string(total_bad());
  std::string kinds;
  for (int k = 0; k < static_cast<int>(BadRowKind::kNumKinds); ++k) {
    if (rows_bad[k] == 0) continue;
    if (!kinds.empty()) kinds += ' ';
    kinds +=
        std::string(BadRowKindName(static_cast<BadRowKind>(k))) + "=" + std::to_string(rows_bad[k]);
  }
  if (!kinds.empty()) s += " (" + kinds + ")";
  if (rows_dropped > 0) s += " rows_dropped=" + std::to_string(rows_dropped);
  if (blank_lines > 0) s += " blank_lines=" + std::to_string(blank_lines);
  s += " files_done=" + std::to_string(files_done);
  return s;
}

namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The data files of folder `dir`, sorted.
Result<std::vector<std::string>> FolderFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::IoError("cannot list " + dir + ": " + std::strerror(errno));
  std::vector<std::string> files;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || name[0] == '_') continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(path);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  if (files.empty()) return Status::InvalidArgument("folder " + dir + " holds no data files");
  return files;
}

}  // namespace

Result<std::vector<std::string>> ExpandInputPaths(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& item : items) {
    if (item.find_first_of("*?[") != std::string::npos) {
      glob_t g;
      const int rc = ::glob(item.c_str(), 0, nullptr, &g);
      if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        if (rc == 0) ::globfree(&g);
        return Status::InvalidArgument("no file matches '" + item + "'");
      }
      if (rc != 0) return Status::IoError("cannot expand '" + item + "'");
      std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      ::globfree(&g);
      for (const std::string& m : matches) {
        if (!IsDirectory(m)) {
          out.push_back(m);
          continue;
        }
        MSREC_ASSIGN_OR_RETURN(std::vector<std::string> files, FolderFiles(m));
        out.insert(out.end(), files.begin(), files.end());
      }
    } else if (IsDirectory(item)) {
      MSREC_ASSIGN_OR_RETURN(std::vector<std::string> files, FolderFiles(item));
      out.insert(out.end(), files.begin(), files.end());
    } else {
      out.push_back(item);
    }
  }
  if (out != items) {
    uint64_t bytes = 0;
    for (const std::string& p : out) {
      struct stat st;
      if (::stat(p.c_str(), &st) == 0) bytes += uint64_t(st.st_size);
    }
    LOG(INFO) << "inputs " << (items.empty() ? std::string() : items[0])
              << (items.size() > 1 ? " ..." : "") << ": " << out.size() << " files, "
              << bytes / 1048576.0 << " MiB";
  }
  return out;
}

Result<uint64_t> CheckReaderInputs(const std::vector<std::string>& paths,
                                   const ReaderOptions& options) {
  if (paths.empty()) return Status::InvalidArgument("no input files");
  if (options.batch_size <= 0) return Status::InvalidArgument("batch_size must be > 0");
  if (options.queue_capacity <= 0) return Status::InvalidArgument("queue_capacity must be > 0");
  if (options.max_bad_rows < -1) {
    return Status::InvalidArgument("--max_bad_rows must be >= 0, or -1 for no limit; got " +
                                   std::to_string(options.max_bad_rows));
  }
  if (options.num_parts <= 0 || options.part_index < 0 || options.part_index >= options.num_parts) {
    return Status::InvalidArgument("part_index must be in [0, num_parts)");
  }
  uint64_t total = 0;
  for (const std::string& p : paths) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) {
      return Status::IoError("cannot open " + p + ": " + std::strerror(errno));
    }
    total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

Result<std::unique_ptr<Reader>> OpenReader(const std::vector<std::string>& paths,
                                           const ReaderOptions& options) {
  if (paths.empty()) return Status::InvalidArgument("no input files");
  int shards = 0;
  for (const std::string& p : paths) {
    MSREC_ASSIGN_OR_RETURN(bool is_shard, IsShardFile(p));
    shards += is_shard ? 1 : 0;
  }
  if (shards == static_cast<int>(paths.size())) return OpenShardReader(paths, options);
  if (shards > 0) {
    return Status::InvalidArgument("inputs mix binary shards and CSV files (" + paths[0] +
                                   ", ...): convert the CSV files first");
  }
  return OpenCsvReader(paths, options);
}

}  // namespace msrec
