#include "cluster/transport.h"

#include <string>

namespace msrec {

Status ReceiveTimeout(int source, int tag, double deadline_s) {
  return Status::Timeout("no message from rank " +
                         (source == kAnySource ? std::string("any") : std::to_string(source)) +
                         " on tag " + std::to_string(tag) + " within " +
                         std::to_string(deadline_s) + " s");
}

}  // namespace msrec
