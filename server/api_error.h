#pragma once
// Errors the OpenAI API reports to a client: an HTTP status plus the JSON body
// {"error":{"message","type","param","code"}} that OpenAI clients parse.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace strata::server {

// Thrown by request parsing/validation; the HTTP layer turns it into a response. `param` and
// `code` may be empty (sent as null).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error",
           std::string param = "", std::string code = "")
      : std::runtime_error(message), status_(status), type_(std::move(type)), param_(std::move(param)),
        code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  nlohmann::json to_json() const;

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
};

// {"error":{...}} for the given fields; empty param/code become null.
nlohmann::json error_json(const std::string& message, const std::string& type, const std::string& param,
                          const std::string& code);

// json::dump that never throws: invalid UTF-8 (a token piece cut inside a character) is replaced
// with U+FFFD instead of raising.
std::string dump_json(const nlohmann::json& j);

}  // namespace strata::server
