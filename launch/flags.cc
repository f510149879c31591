#include "launch/flags.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "trainer/data/reader.h"
#include "trainer/data/schema.h"

// Data.
DEFINE_string(train, "", "Comma-separated training files (CSV/TSV, .gz, or binary shards)");
DEFINE_string(val, "", "Comma-separated validation files, evaluated after every epoch");
DEFINE_string(test, "", "Comma-separated test files, evaluated at the end of training");
DEFINE_string(input, "", "Comma-separated input files (eval, predict, convert)");
DEFINE_string(output, "", "Output path (predict: scores file; convert: shard file; gen: directory)");
DEFINE_string(schema, "", "Schema spec, e.g. 'label:label,scenario:scenario,genres:multi:|,*:cat'");
DEFINE_string(schema_file, "", "File holding the schema spec (one token per line); overrides --schema");
DEFINE_string(scenario_map, "", "Fixed scenario map (TSV value<TAB>id); default: built from --train");
DEFINE_int32(reader_threads, 1, "Parser threads per reader");
DEFINE_int64(max_bad_rows, 100, "Fail once more than this many input rows are bad (-1: no limit)");
DEFINE_string(gauc_column, "",
              "train (validation, test), eval: add grouped AUC (gAUC) by this column, e.g. a user "
              "id (an id or single-valued categorical column of the schema)");
DEFINE_string(compare, "", "report: comma-separated model directories to overlay (instead of --model_dir)");
DEFINE_string(init_from, "",
              "train: start from this trained model directory (day-by-day training): its dense "
              "weights, every embedding row and its scenario map (new scenario values get fresh "
              "paths); optimizer state starts fresh");
DEFINE_string(tensorboard_dir, "",
              "train, ssim-search: write TensorBoard event files here (train/loss, "
              "train/samples_per_sec, val|test/auc|logloss|gauc[/<scenario>])");
DEFINE_bool(csv_multiline_quotes, false,
            "CSV dialect: quoted fields may span lines (RFC 4180). Off: a record ends at every "
            "newline, so a stray quote costs one bad row");
// gen: the synthetic generator (docs/data.md, "Generator").
DEFINE_int64(rows, 1000000, "gen: rows over all splits");
DEFINE_int32(num_scenarios, 4, "gen, info: scenarios K (gen: shares decay geometrically)");
DEFINE_int64(first_row, 0, "gen: index of the first row (later rows of the same synthetic world, e.g. another day)");
DEFINE_double(scenario_decay, 0.5, "gen: scenario k's share is proportional to decay^k");
DEFINE_double(scenario_strength, 1.0,
              "gen: multiplies every scenario-specific effect of the generator (per-scenario bias, "
              "(value, scenario) effects, per-scenario dense slopes); 0: the click probability "
              "ignores the scenario");
DEFINE_int32(num_fields, 8, "gen, info: categorical fields (gen: vocabularies log-spaced 1e2..1e7)");
DEFINE_string(vocab_sizes, "", "gen: explicit comma-separated vocabulary sizes (overrides num_fields)");
DEFINE_double(zipf, 1.1, "gen: Zipf exponent of the value distribution");
DEFINE_int32(num_dense, 4, "gen, info: dense features");
DEFINE_double(val_fraction, 0.1, "gen: share of rows in val.csv");
DEFINE_double(test_fraction, 0.1, "gen: share of rows in test.csv");
// convert.
DEFINE_int64(rows_per_block, 65536, "convert: rows per checksummed shard block");
// Model.
DEFINE_string(model, "mt_backbone", "Registered model name (dnn, mt_backbone)");
DEFINE_string(hidden, "256,128,64", "Hidden sizes of the MLP / each tower");
DEFINE_bool(batch_norm, false, "Batch norm after each hidden layer");
DEFINE_double(dropout, 0.0, "Dropout after each hidden activation");
DEFINE_string(model_opts, "", "Model-specific options, key=value pairs separated by ';'");
DEFINE_int32(label_index, 0, "Which label column (in schema order) is the target");
// Embeddings.
DEFINE_int32(embedding_dim, 16, "Embedding dimension d");
DEFINE_string(sparse_optimizer, "adam", "Server-side sparse optimizer: sgd, adagrad, rowwise_adagrad, adam, ftrl");
DEFINE_double(sparse_lr, 1e-3, "Sparse optimizer learning rate");
DEFINE_double(sparse_weight_decay, 0.0, "Sparse optimizer L2 weight decay");
DEFINE_double(init_scale, 0.01, "Initial embedding weights ~ U(-init_scale, init_scale)");
DEFINE_string(store, "memory",
              "Row store: memory (embedded: saved as embeddings.bin) or rocksdb (embedded: "
              "<model_dir>/embeddings; servers: <ps_dir>/server-<s>)");
DEFINE_int32(admit_after, 1, "A key gets a trainable row after this many pushes (default row until then)");
DEFINE_int64(ttl_steps, 0, "Rows not pushed for this many steps are evicted (0: never)");
DEFINE_double(ftrl_beta, 1.0, "FTRL beta (--sparse_optimizer ftrl; alpha is --sparse_lr)");
DEFINE_double(ftrl_l1, 0.0, "FTRL L1 strength");
DEFINE_double(ftrl_l2, 0.0, "FTRL L2 strength");
// Multi-process jobs under mpirun (docs/parameter_server.md, docs/cluster.md).
DEFINE_int32(num_servers, 0,
             "mpirun: the last N ranks are parameter servers, the others workers (several "
             "workers need N >= 1)");
DEFINE_bool(ps_sync, true, "Servers average all workers' pushes of a step and apply them once "
                           "(false: apply each push on arrival)");
DEFINE_int64(ps_max_staleness, 0, "Asynchronous servers: steps a pull may run ahead of the slowest worker");
DEFINE_double(ps_timeout_s, 120, "Workers: seconds to wait for a server's reply before failing");
DEFINE_double(ps_idle_timeout_s, 600, "Servers: fail after this many seconds without a request "
                                      "while workers are active, or when a synchronous step has "
                                      "waited this long for some worker's push (naming it)");
DEFINE_int64(store_memory_mb, msrec::ServerSettings().store_memory_mb,
             "--store rocksdb, embedded and on servers: RAM the store may hold, MiB (row cache "
             "1/2, RocksDB block cache 3/8, memtables 1/8); per server process");
DEFINE_bool(store_mmap_reads, msrec::ServerSettings().store_mmap_reads,
            "--store rocksdb, embedded and on servers: read the table's files through mmap, not "
            "a pread per block (50M-key steps 1.2x faster, docs/parameter_server.md); the mapped "
            "pages count in the process's RSS, so its peak no longer follows --store_memory_mb");
DEFINE_int32(ps_threads, msrec::ServerSettings().apply_threads,
             "Embedded and on servers: threads a pull or push of >= 4096 distinct keys is split "
             "over, by key hash; 2 gave no measured gain at 2M rows");
DEFINE_int32(ps_prefetch_threads, msrec::ServerSettings().prefetch_threads,
             "Embedded and on servers: threads that read the rows of the next step's pull from "
             "the store while the current step's pushes are applied, each a contiguous part of "
             "its keys; side by side, 1 and 2 trained the 100M-row --store rocksdb benchmark "
             "equally fast on 2 cores (docs/parameter_server.md); the memory store reads "
             "nothing ahead");
DEFINE_string(ps_dir, "", "Servers: directory of their stores (default <model_dir>/ps)");
DEFINE_double(ps_stats_interval_s, 60, "Servers: log statistics this often (0: never)");
DEFINE_int64(ps_max_message_mb, 512, "Largest request a server accepts, MiB");
DEFINE_string(data_sharding, "chunks",
              "Workers: chunks (CSV chunks / shard blocks dealt round-robin) or batches (every "
              "worker reads all, takes every W-th batch; exact vs one process)");
DEFINE_double(bucket_mb, 25, "Workers: dense gradient all-reduce bucket size, MiB");
DEFINE_bool(check_parameters, false, "Workers: check after step 1 and every epoch that all "
                                     "workers hold the same dense parameters");
DEFINE_double(comm_timeout_s, 300, "Workers: seconds a collective waits for the other workers");
// Training.
DEFINE_string(model_dir, "", "Model directory (train writes it; eval/predict read it)");
DEFINE_int32(epochs, 1, "Passes over the training data");
DEFINE_int64(max_steps, 0, "Stop after this many steps (0: run all epochs)");
DEFINE_int32(batch_size, 2048, "Training mini-batch size");
DEFINE_int64(shuffle_buffer, 1000000,
             "Rows shuffled together each epoch (>= the data: full shuffle; 0: file order)");
DEFINE_bool(reshuffle_each_epoch, true,
            "Each epoch its own shuffled order (false: one seeded order, epoch 1's, the same "
            "every epoch, as tf.data's reshuffle_each_iteration=False and the SSIM authors' "
            "pre-built batch list; the search then reads the retrain's order too)");
DEFINE_int32(eval_batch_size, 8192, "Evaluation batch size");
DEFINE_double(lr, 1e-3, "Dense Adam learning rate");
DEFINE_double(weight_decay, 0.0, "Dense Adam weight decay");
DEFINE_int32(threads, 1, "Compute threads: LibTorch intra-op threads; OpenBLAS is held to 1 thread inside them");
DEFINE_string(omp_wait, "auto",
              "How idle OpenMP compute threads wait: active (libgomp's default: spin before "
              "sleeping), passive (sleep at once, OMP_WAIT_POLICY=PASSIVE: leaves the cores to "
              "the parameter server and RocksDB's background threads), auto (passive with "
              "--store rocksdb, --threads > 1 and no --num_servers, i.e. where this process "
              "hosts the RocksDB store; else active). Set by re-executing msrec with "
              "the variable (libgomp reads it only at start); OMP_WAIT_POLICY or GOMP_SPINCOUNT "
              "already in the environment win");
DEFINE_int32(malloc_keep_mb, 64,
             "Free heap memory glibc's malloc keeps for reuse instead of returning it to the OS, "
             "MiB (M_TRIM_THRESHOLD; allocations up to 32 MiB then come from the heap, "
             "M_MMAP_THRESHOLD; at most 2 arenas, M_ARENA_MAX, unless MALLOC_ARENA_MAX is set). Without it the memory of a step's tensors was returned and "
             "faulted in again every step: with --store rocksdb 1.5x the wall time at 4M rows. "
             "0: glibc's defaults; GLIBC_TUNABLES or MALLOC_*_ variables in the environment win");
DEFINE_string(device, "cpu", "Where the model runs: cpu, cuda, cuda:N (CUDA builds only)");
DEFINE_string(train_mode, "mt",
              "mt (own scenario's path), all_shared (MT-Backbone-S), st (ST-Backbone: "
              "scenario-private embeddings), finetune (shared epochs, then per scenario)");
DEFINE_int32(finetune_shared_epochs, 1, "finetune: epochs of shared training before fine-tuning");
DEFINE_int32(early_stopping_patience, 0,
             "Stop after N epochs without a better validation AUC and keep the best epoch (0: off)");
DEFINE_int64(log_every, 50, "Progress line every N steps");
// Checkpoints (docs/training.md, "Checkpoints").
DEFINE_string(checkpoint_dir, "", "Checkpoint directory (default <model_dir>/checkpoints, ssim-search: <output>/checkpoints; 'none': off)");
DEFINE_int64(checkpoint_every_steps, 0, "Also checkpoint every N global steps (0: epoch ends only)");
DEFINE_bool(checkpoint_at_epoch_end, true, "Checkpoint at the end of every epoch");
DEFINE_int32(keep_checkpoints, 2, "Complete checkpoints kept (the newest)");
DEFINE_bool(resume, false, "Resume from the newest complete checkpoint (fresh start if none)");
DEFINE_bool(resume_skip_corrupt, false,
            "--resume: if the newest checkpoint fails its checksums, use the previous one");
DEFINE_bool(deterministic, false,
            "LibTorch deterministic algorithms; a killed and resumed job then ends exactly like "
            "the uninterrupted one (same threads, synchronous servers)");
DEFINE_string(metrics_file, "", "JSON-lines metrics file (default <model_dir>/metrics.jsonl)");
DEFINE_uint64(seed, 2022, "Random seed (torch, embedding init)");
// SSIM (docs/ssim.md): ssim-search, ssim-export, and train's shared-instance policies.
DEFINE_string(ssim_selector, "",
              "train, ssim-export: an ssim-search artefact directory; train shares the top "
              "--ssim_topk of each mini-batch by the frozen selector's score");
DEFINE_double(ssim_topk, -1,
              "Share k of each mini-batch (selector, --ssim_random, ssim-export); -1 (auto): the "
              "share the search's validation sweep chose (ssim.txt validated_share), else the "
              "share its search learned (learned_share); 0.95 for --ssim_random");
DEFINE_bool(ssim_random, false, "train: SSIM-R, share a seeded random --ssim_topk of each batch");
DEFINE_string(shared_flags, "",
              "train: comma-separated ssim-export flag files, one per --train file (in order)");
DEFINE_string(ssim_hidden, "256,128,64", "ssim-search: selection network hidden sizes");
DEFINE_double(ssim_eps, 0.5, "ssim-search: mask threshold eps (shared iff sigmoid(t*m) > eps)");
DEFINE_double(ssim_t_final, 1000, "ssim-search: temperature at the search epoch's last step");
DEFINE_double(ssim_lambda, 0.4, "ssim-search: weight of the mask loss");
DEFINE_string(ssim_mask_loss, "linear",
              "ssim-search: linear (e*mean(1-g)), log (-mean log max(g,1e-7)), none (SSIM-NK)");
DEFINE_double(ssim_backbone_lr, 1e-3, "ssim-search: backbone dense Adam learning rate");
DEFINE_double(ssim_backbone_weight_decay, 1e-7, "ssim-search: backbone dense Adam weight decay");
DEFINE_double(ssim_selector_lr, 1e-5, "ssim-search: selection network Adam learning rate");
DEFINE_int64(ssim_steps_in_epoch, 0,
             "ssim-search: batches per epoch for the temperature schedule (0: count them with "
             "one reading pass first)");
DEFINE_string(ssim_share_sweep, "0,0.25,learned,0.5,0.95",
              "ssim-search with --val: shares tried by short retrains after the search (learned: "
              "the share the search learned; 0 is MT-Backbone); the best on validation becomes "
              "the retrain's default share (ssim.txt validated_share); none: no sweep");
DEFINE_int32(ssim_sweep_epochs, 1, "ssim-search: epochs of each share-sweep retrain");

namespace msrec {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

namespace {
Result<std::vector<int64_t>> ParseHidden(const std::string& s) {
  std::vector<int64_t> out;
  for (const std::string& item : SplitList(s)) {
    try {
      const long long v = std::stoll(item);
      if (v <= 0) throw std::invalid_argument("not positive");
      out.push_back(v);
    } catch (const std::exception&) {
      return Status::InvalidArgument("--hidden: bad layer size '" + item + "'");
    }
  }
  return out;
}
}  // namespace

Result<JobSpec> JobSpecFromFlags(bool need_schema) {
  JobSpec spec;
  spec.model = FLAGS_model;
  if (!need_schema) {
    // `msrec info` takes shapes from flags, not from data.
  } else if (!FLAGS_schema_file.empty()) {
    MSREC_ASSIGN_OR_RETURN(SchemaSpec s, SchemaSpec::LoadFile(FLAGS_schema_file));
    spec.schema = s.ToString();
  } else {
    if (FLAGS_schema.empty()) return Status::InvalidArgument("give --schema or --schema_file");
    MSREC_ASSIGN_OR_RETURN(SchemaSpec s, SchemaSpec::Parse(FLAGS_schema));
    spec.schema = s.ToString();
  }
  MSREC_ASSIGN_OR_RETURN(spec.model_config.hidden, ParseHidden(FLAGS_hidden));
  spec.model_config.batch_norm = FLAGS_batch_norm;
  spec.model_config.dropout = FLAGS_dropout;
  std::stringstream opts(FLAGS_model_opts);
  std::string kv;
  while (std::getline(opts, kv, ';')) {
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument("--model_opts: expected key=value, got '" + kv + "'");
    }
    spec.model_config.extra[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  spec.label_index = FLAGS_label_index;
  spec.table.dim = FLAGS_embedding_dim;
  spec.table.init_scale = float(FLAGS_init_scale);
  if (!ParseSparseOptimizerKind(FLAGS_sparse_optimizer, &spec.table.optimizer.kind)) {
    return Status::InvalidArgument("--sparse_optimizer: unknown '" + FLAGS_sparse_optimizer +
                                   "' (sgd, adagrad, rowwise_adagrad, adam, ftrl)");
  }
  spec.table.optimizer.learning_rate = float(FLAGS_sparse_lr);
  spec.table.optimizer.ftrl_beta = float(FLAGS_ftrl_beta);
  spec.table.optimizer.ftrl_l1 = float(FLAGS_ftrl_l1);
  spec.table.optimizer.ftrl_l2 = float(FLAGS_ftrl_l2);
  spec.table.admit_after = FLAGS_admit_after;
  spec.table.ttl_steps = FLAGS_ttl_steps;
  spec.table.optimizer.weight_decay = float(FLAGS_sparse_weight_decay);
  if (FLAGS_store != "memory" && FLAGS_store != "rocksdb") {
    return Status::InvalidArgument("--store: unknown '" + FLAGS_store + "' (memory, rocksdb)");
  }
  spec.store = FLAGS_store;
  return spec;
}

namespace {
// --checkpoint_dir (default <model_dir>/checkpoints; "none": off) and the rest.
CheckpointOptions CheckpointOptionsFromFlags(const std::string& model_dir) {
  CheckpointOptions c;
  if (FLAGS_checkpoint_dir != "none") {
    c.dir = FLAGS_checkpoint_dir.empty() ? model_dir + "/checkpoints" : FLAGS_checkpoint_dir;
  }
  c.every_steps = FLAGS_checkpoint_every_steps;
  c.at_epoch_end = FLAGS_checkpoint_at_epoch_end;
  c.keep = FLAGS_keep_checkpoints;
  c.resume = FLAGS_resume;
  c.skip_corrupt = FLAGS_resume_skip_corrupt;
  return c;
}

// The embedded server's and every server rank's store budget and threads.
ServerSettings ServerSettingsFromFlags() {
  ServerSettings s;
  s.store_memory_mb = FLAGS_store_memory_mb;
  s.store_mmap_reads = FLAGS_store_mmap_reads;
  s.apply_threads = FLAGS_ps_threads;
  s.prefetch_threads = FLAGS_ps_prefetch_threads;
  return s;
}
}  // namespace

Result<std::vector<std::string>> InputsFromFlag(const std::string& value) {
  return ExpandInputPaths(SplitList(value));
}

Result<std::vector<double>> ShareSweepFromFlags() {
  std::vector<double> shares;
  if (FLAGS_ssim_share_sweep == "none") return shares;
  for (const std::string& item : SplitList(FLAGS_ssim_share_sweep)) {
    if (item == "learned") {
      shares.push_back(-1);
      continue;
    }
    char* end = nullptr;
    const double k = std::strtod(item.c_str(), &end);
    if (end == item.c_str() || *end != '\0' || !(k >= 0 && k <= 1)) {
      return Status::InvalidArgument("--ssim_share_sweep: '" + item +
                                     "' is not a share in [0, 1] or 'learned'");
    }
    shares.push_back(k);
  }
  if (shares.empty()) return Status::InvalidArgument("--ssim_share_sweep: no shares (use none)");
  if (FLAGS_ssim_sweep_epochs < 1) return Status::InvalidArgument("--ssim_sweep_epochs must be >= 1");
  return shares;
}

Result<TrainOptions> TrainOptionsFromFlags() {
  TrainOptions o;
  if (!ParseTrainMode(FLAGS_train_mode, &o.train_mode)) {
    return Status::InvalidArgument("--train_mode: unknown '" + FLAGS_train_mode +
                                   "' (mt, all_shared, st, finetune)");
  }
  o.finetune_shared_epochs = FLAGS_finetune_shared_epochs;
  MSREC_ASSIGN_OR_RETURN(o.train_files, InputsFromFlag(FLAGS_train));
  MSREC_ASSIGN_OR_RETURN(o.val_files, InputsFromFlag(FLAGS_val));
  MSREC_ASSIGN_OR_RETURN(o.test_files, InputsFromFlag(FLAGS_test));
  o.model_dir = FLAGS_model_dir;
  o.init_from = FLAGS_init_from;
  o.scenario_map_file = FLAGS_scenario_map;
  o.epochs = FLAGS_epochs;
  o.max_steps = FLAGS_max_steps;
  o.batch_size = FLAGS_batch_size;
  o.eval_batch_size = FLAGS_eval_batch_size;
  o.learning_rate = FLAGS_lr;
  o.weight_decay = FLAGS_weight_decay;
  o.intra_op_threads = FLAGS_threads;
  o.reader_threads = FLAGS_reader_threads;
  o.max_bad_rows = FLAGS_max_bad_rows;
  o.csv_multiline_quotes = FLAGS_csv_multiline_quotes;
  o.log_every = FLAGS_log_every;
  o.early_stopping_patience = FLAGS_early_stopping_patience;
  o.gauc_column = FLAGS_gauc_column;
  o.tensorboard_dir = FLAGS_tensorboard_dir;
  o.metrics_file = FLAGS_metrics_file;
  o.seed = FLAGS_seed;
  o.shuffle_buffer = FLAGS_shuffle_buffer;
  o.reshuffle_each_epoch = FLAGS_reshuffle_each_epoch;
  o.device = FLAGS_device;
  o.server_settings = ServerSettingsFromFlags();
  o.sharing.selector_dir = FLAGS_ssim_selector;
  o.sharing.shared_flags_files = SplitList(FLAGS_shared_flags);
  o.sharing.random = FLAGS_ssim_random;
  o.sharing.topk = FLAGS_ssim_topk;
  o.sharing.seed = FLAGS_seed;
  o.checkpoint = CheckpointOptionsFromFlags(FLAGS_model_dir);
  o.deterministic = FLAGS_deterministic;
  return o;
}

ClusterOptions ClusterOptionsFromFlags(const std::string& model_dir) {
  ClusterOptions o;
  o.num_servers = FLAGS_num_servers;
  o.model_dir = model_dir;
  o.ps_dir = FLAGS_ps_dir;
  o.store = FLAGS_store;
  o.server_settings = ServerSettingsFromFlags();
  o.ps_sync = FLAGS_ps_sync;
  o.ps_max_staleness = FLAGS_ps_max_staleness;
  o.ps_timeout_s = FLAGS_ps_timeout_s;
  o.ps_idle_timeout_s = FLAGS_ps_idle_timeout_s;
  o.ps_stats_interval_s = FLAGS_ps_stats_interval_s;
  o.ps_max_message_mb = FLAGS_ps_max_message_mb;
  o.data_sharding = FLAGS_data_sharding;
  o.bucket_mb = FLAGS_bucket_mb;
  o.check_parameters = FLAGS_check_parameters;
  o.comm_timeout_s = FLAGS_comm_timeout_s;
  o.deterministic = FLAGS_deterministic;
  o.device = FLAGS_device;
  return o;
}

Result<SsimSearchOptions> SsimSearchOptionsFromFlags() {
  SsimSearchOptions o;
  MSREC_ASSIGN_OR_RETURN(o.train_files, InputsFromFlag(FLAGS_train));
  o.output_dir = FLAGS_output;
  o.scenario_map_file = FLAGS_scenario_map;
  SsimSettings& s = o.settings;
  MSREC_ASSIGN_OR_RETURN(s.selector_hidden, ParseHidden(FLAGS_ssim_hidden));
  s.eps = FLAGS_ssim_eps;
  s.t_final = FLAGS_ssim_t_final;
  s.mask_lambda = FLAGS_ssim_lambda;
  if (!ParseMaskLossForm(FLAGS_ssim_mask_loss, &s.mask_loss)) {
    return Status::InvalidArgument("--ssim_mask_loss: unknown '" + FLAGS_ssim_mask_loss +
                                   "' (linear, log, none)");
  }
  s.backbone_lr = FLAGS_ssim_backbone_lr;
  s.backbone_weight_decay = FLAGS_ssim_backbone_weight_decay;
  s.selector_lr = FLAGS_ssim_selector_lr;
  s.batch_size = FLAGS_batch_size;
  s.steps_in_epoch = FLAGS_ssim_steps_in_epoch;
  o.max_steps = FLAGS_max_steps;
  o.shuffle_buffer = FLAGS_shuffle_buffer;
  o.reshuffle_each_epoch = FLAGS_reshuffle_each_epoch;
  o.intra_op_threads = FLAGS_threads;
  o.reader_threads = FLAGS_reader_threads;
  o.max_bad_rows = FLAGS_max_bad_rows;
  o.csv_multiline_quotes = FLAGS_csv_multiline_quotes;
  o.log_every = FLAGS_log_every;
  o.seed = FLAGS_seed;
  o.checkpoint = CheckpointOptionsFromFlags(FLAGS_output);
  o.tensorboard_dir = FLAGS_tensorboard_dir;
  o.deterministic = FLAGS_deterministic;
  return o;
}

Result<SharedFlagsExportOptions> SharedFlagsExportOptionsFromFlags() {
  SharedFlagsExportOptions o;
  o.selector_dir = FLAGS_ssim_selector;
  MSREC_ASSIGN_OR_RETURN(o.inputs, InputsFromFlag(FLAGS_input));
  o.output = FLAGS_output;
  o.topk = FLAGS_ssim_topk;
  o.batch_size = FLAGS_batch_size;
  o.intra_op_threads = FLAGS_threads;
  o.reader_threads = FLAGS_reader_threads;
  o.max_bad_rows = FLAGS_max_bad_rows;
  o.csv_multiline_quotes = FLAGS_csv_multiline_quotes;
  return o;
}

Result<EvalOptions> EvalOptionsFromFlags() {
  EvalOptions o;
  o.model_dir = FLAGS_model_dir;
  MSREC_ASSIGN_OR_RETURN(o.files, InputsFromFlag(FLAGS_input));
  o.gauc_column = FLAGS_gauc_column;
  o.batch_size = FLAGS_eval_batch_size;
  o.intra_op_threads = FLAGS_threads;
  o.reader_threads = FLAGS_reader_threads;
  o.max_bad_rows = FLAGS_max_bad_rows;
  o.csv_multiline_quotes = FLAGS_csv_multiline_quotes;
  o.device = FLAGS_device;
  o.server_settings = ServerSettingsFromFlags();
  return o;
}

}  // namespace msrec
