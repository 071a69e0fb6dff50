// Internal to the trainer library: the rules between config keys, shared by the loader
// (config.cc) and validate_config. Not part of the public API.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/config.h"

namespace rnnlab::trainer {

// Resolves "auto" values (data.dataset, data.format, train.early_stopping.goal) and checks
// config_rules(). Appends one message per broken rule to `errors`, each naming the key at
// fault and prefixed by `where(keys)`: the location ("file:line: ", "override '...': " or
// "file: ") of whichever of the rule's keys was set last, since that setting broke it.
using ConfigLocator = std::function<std::string(const std::vector<std::string>& keys)>;
void check_config_rules(Config& config, const ConfigLocator& where, std::vector<std::string>& errors);

}  // namespace rnnlab::trainer
