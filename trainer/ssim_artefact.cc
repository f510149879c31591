#include "trainer/ssim_artefact.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/key_value_file.h"
#include "trainer/job_io.h"
#include "trainer/model_dir.h"

namespace msrec {

Status SaveSsimSettings(const SsimSettings& s, const std::string& path) {
  return WriteAtomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp);
    char buf[64];
    auto num = [&](double v) {
      std::snprintf(buf, sizeof(buf), "%.17g", v);
      return std::string(buf);
    };
    out << "format=1\n"
        << "selector_hidden=" << JoinInts(s.selector_hidden) << "\n"
        << "eps=" << num(s.eps) << "\nt_final=" << num(s.t_final)
        << "\nmask_lambda=" << num(s.mask_lambda)
        << "\nmask_loss=" << MaskLossFormName(s.mask_loss)
        << "\nbackbone_lr=" << num(s.backbone_lr)
        << "\nbackbone_weight_decay=" << num(s.backbone_weight_decay)
        << "\nselector_lr=" << num(s.selector_lr) << "\nbatch_size=" << s.batch_size
        << "\nsteps_in_epoch=" << s.steps_in_epoch
        << "\nlearned_share=" << num(s.learned_share)
        << "\nvalidated_share=" << num(s.validated_share) << "\n";
    out.close();
    return out ? Status::OK() : Status::IoError("cannot write " + path);
  });
}

Result<SsimSettings> LoadSsimSettings(const std::string& path) {
  SsimSettings s;
  MSREC_RETURN_IF_ERROR(ReadKeyValueFile(
      path, "an ssim-search artefact", 1, [&](const std::string& key, const std::string& value) {
        if (key == "selector_hidden") s.selector_hidden = ParseInts(value);
        else if (key == "eps") s.eps = std::stod(value);
        else if (key == "t_final") s.t_final = std::stod(value);
        else if (key == "mask_lambda") s.mask_lambda = std::stod(value);
        else if (key == "mask_loss") {
          if (!ParseMaskLossForm(value, &s.mask_loss)) throw std::invalid_argument(value);
        } else if (key == "backbone_lr") s.backbone_lr = std::stod(value);
        else if (key == "backbone_weight_decay") s.backbone_weight_decay = std::stod(value);
        else if (key == "selector_lr") s.selector_lr = std::stod(value);
        else if (key == "batch_size") s.batch_size = std::stoi(value);
        else if (key == "steps_in_epoch") s.steps_in_epoch = std::stoll(value);
        else if (key == "learned_share") s.learned_share = std::stod(value);
        else if (key == "validated_share") s.validated_share = std::stod(value);
        else return false;
        return true;
      }));
  return s;
}

Result<SsimArtefact> LoadSsimArtefact(const std::string& dir) {
  SsimArtefact a;
  a.dir = dir;
  MSREC_ASSIGN_OR_RETURN(a.backbone, LoadJobSpec(ModelDir(dir).job()));
  MSREC_ASSIGN_OR_RETURN(a.settings, LoadSsimSettings(ModelDir(dir).ssim_settings()));
  return a;
}

}  // namespace msrec
