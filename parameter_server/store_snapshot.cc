#include "parameter_server/store_snapshot.h"

#include <vector>

#include "parameter_server/internal/row.h"

#include <sys/stat.h>

#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"

namespace msrec {

Result<std::unique_ptr<EmbeddingStore>> OpenStoreSnapshot(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::IoError("cannot open " + path);
  if (S_ISDIR(st.st_mode)) {
    RocksDbStoreOptions read_only;
    read_only.read_only = true;
    read_only.create_if_missing = false;
    read_only.block_cache_bytes = size_t{8} << 20;  // one sequential scan
    return OpenRocksDbStore(path, read_only);
  }
  std::unique_ptr<EmbeddingStore> dump = MakeMemoryStore();
  MSREC_RETURN_IF_ERROR(LoadStore(path, dump.get()));
  return dump;
}

Status CopyRows(const EmbeddingStore& from, bool weights_only, EmbeddingStore* to,
                uint64_t* rows) {
  for (const std::string& table : from.TableNames()) {
    MSREC_RETURN_IF_ERROR(to->CreateTable(table));
    std::vector<uint64_t> keys;
    std::vector<std::string> values;
    Status decode;
    MSREC_RETURN_IF_ERROR(from.ForEach(table, [&](uint64_t key, std::string_view bytes) {
      keys.push_back(key);
      if (!weights_only) {
        values.emplace_back(bytes);
        return true;
      }
      Row row;
      decode = DecodeRow(bytes, table, key, &row);
      if (!decode.ok()) return false;
      row.kind = SparseOptimizerKind::kSgd;
      row.state.clear();
      values.emplace_back();
      EncodeRow(row, &values.back());
      return true;
    }));
    MSREC_RETURN_IF_ERROR(decode);
    MSREC_RETURN_IF_ERROR(to->Write(table, keys.data(), keys.size(), values.data()));
    *rows += keys.size();
  }
  return Status::OK();
}

}  // namespace msrec
