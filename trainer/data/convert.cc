#include "trainer/data/shard.h"

namespace msrec {

Status ConvertToShards(const std::vector<std::string>& inputs, const ReaderOptions& options,
                       const std::string& output_path, int64_t rows_per_block, ReaderStats* stats) {
  // The header holds the scenario map, so it must be complete before writing.
  ScenarioMap map;
  if (options.scenario_map != nullptr) map = *options.scenario_map;
  if (!map.fixed()) {
    MSREC_ASSIGN_OR_RETURN(ScenarioMap scanned,
                           ScenarioMap::Scan(inputs, options.schema, options.delimiter));
    map.set_fixed(false);
    for (const std::string& v : scanned.values()) map.FindOrAdd(v);
    map.set_fixed(true);
  }
  ReaderOptions ropts = options;
  ropts.scenario_map = &map;
  ropts.drop_last = false;
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader, OpenReader(inputs, ropts));
  ShardLayout layout{reader->schema(), map.values()};
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<ShardWriter> writer,
                         ShardWriter::Open(output_path, layout, rows_per_block));
  Batch batch;
  for (;;) {
    Result<bool> more = reader->Next(&batch);
    if (!more.ok()) return more.status().WithContext("converting to " + output_path);
    if (!more.value()) break;
    MSREC_RETURN_IF_ERROR(writer->Append(batch));
  }
  MSREC_RETURN_IF_ERROR(writer->Close());
  if (stats != nullptr) *stats = reader->stats();
  return Status::OK();
}

}  // namespace msrec
