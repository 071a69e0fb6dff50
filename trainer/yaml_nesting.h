// A bound on how deeply the YAML a user writes may nest (config files, command-line
// overrides, sweep files): every reader of such YAML calls check_yaml_nesting first.
//
// yaml-cpp recurses once per level while parsing and refuses past 500 levels with the
// message "bad file"; code that walks a parsed tree recurses too, and an alias may point at
// the collection that holds it (`a: &x [*x]`), which is a tree of infinite depth. No
// config or sweep needs more than a few levels, so anything deeper than kMaxYamlNesting
// gets one clear message instead.
#pragma once

#include <string>

namespace rnnlab::trainer {

constexpr int kMaxYamlNesting = 64;

// Throws std::invalid_argument `<where>:<line>: nesting deeper than 64 levels` when a
// mapping or list in `yaml_text` sits more than kMaxYamlNesting collections deep (aliases
// followed; `where` is `source` and the line the deepest collection starts on), and
// `<where>: aliases expand to more than N nodes` for an alias bomb. Text that is not valid
// YAML for another reason passes: the caller's own parse reports it. `source` is the file
// name, or for an override the text the message starts with (then no line is added).
void check_yaml_nesting(const std::string& yaml_text, const std::string& source, bool with_line = true);

}  // namespace rnnlab::trainer
