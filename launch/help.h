// `msrec <command> --help`: the command's own flags, grouped, with defaults;
// `msrec --help`: the commands. LibTorch's and glog's flags are shown only by
// --helpfull. Unknown flags get the nearest msrec flag as a suggestion.
#pragma once

#include <string>
#include <vector>

namespace msrec {

// Prints the usage of `command` and its flags by group to stdout.
void PrintCommandHelp(const std::string& command, const std::string& summary);

// Every msrec flag (defined in launch/flags.cc) that is in no help group; a
// test keeps this empty.
std::vector<std::string> UngroupedFlags();

// Checks argv's flags (--name, --name=value, -name, --noname) against the
// defined flags; for an unknown one returns "unknown flag --x; did you mean
// --y?" (empty when every flag is known).
std::string CheckFlagNames(int argc, char** argv);

}  // namespace msrec
