#include "common/key_value_file.h"

#include <fstream>

namespace msrec {

Status ReadKeyValueFile(const std::string& path, const std::string& what, int format,
                        const std::function<bool(const std::string& key,
                                                 const std::string& value)>& apply) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open " + path + " (is it " + what + "?)");
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    const std::string where = path + ":" + std::to_string(line_no);
    if (eq == std::string::npos) return Status::Corruption(where + ": expected key=value");
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "format") {
      if (value != std::to_string(format)) {
        return Status::Corruption(where + ": unsupported format " + value);
      }
      continue;
    }
    try {
      if (!apply(key, value)) return Status::Corruption(where + ": unknown key '" + key + "'");
    } catch (const std::exception&) {
      return Status::Corruption(where + ": bad value '" + value + "' for " + key);
    }
  }
  return Status::OK();
}

}  // namespace msrec
