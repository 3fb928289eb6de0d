#include "net/codec/smtp_reply.h"

#include <algorithm>
#include <cctype>

namespace sb::net {

std::vector<std::string> ehlo_keywords(const SmtpReply& ehlo) {
  std::vector<std::string> out;
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    const std::string_view line = ehlo.lines[i];
    const std::string_view text = line.substr(std::min<std::size_t>(4, line.size()));
    std::string keyword(text.substr(0, text.find(' ')));
    for (char& c : keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!keyword.empty()) out.push_back(std::move(keyword));
  }
  return out;
}

bool offers(const SmtpReply& ehlo, std::string_view keyword) {
  const auto keywords = ehlo_keywords(ehlo);
  return std::find(keywords.begin(), keywords.end(), keyword) != keywords.end();
}

SmtpReplyParser::Status SmtpReplyParser::feed(std::string_view& data) {
  while (!data.empty()) {
    if (bytes_ >= max_bytes_) {
      error_ = "reply longer than " + std::to_string(max_bytes_) + " bytes";
      return Status::invalid;
    }
    const char c = data.front();
    data.remove_prefix(1);
    ++bytes_;
    if (c == '\n') {
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      const Status s = line_done();
      line_.clear();
      if (s != Status::need_more) return s;
      continue;
    }
    if (line_.size() >= max_line_) {
      error_ = "reply line too long";
      return Status::invalid;
    }
    line_.push_back(c);
  }
  return Status::need_more;
}

SmtpReplyParser::Status SmtpReplyParser::line_done() {
  const auto digit = [&](std::size_t i) {
    return std::isdigit(static_cast<unsigned char>(line_[i])) != 0;
  };
  if (line_.size() < 3 || !digit(0) || !digit(1) || !digit(2) ||
      (line_.size() > 3 && line_[3] != ' ' && line_[3] != '-')) {
    error_ = "not an SMTP reply";
    return Status::invalid;
  }
  const int code = (line_[0] - '0') * 100 + (line_[1] - '0') * 10 + (line_[2] - '0');
  if (!reply_.lines.empty() && code != reply_.code) {
    error_ = "reply code changed within a multi-line reply";
    return Status::invalid;
  }
  reply_.code = code;
  reply_.lines.push_back(line_);
  const bool last = line_.size() == 3 || line_[3] == ' ';
  if (last) return Status::done;
  if (reply_.lines.size() >= max_lines_) {
    error_ = "reply longer than " + std::to_string(max_lines_) + " lines";
    return Status::invalid;
  }
  return Status::need_more;
}

}  // namespace sb::net
