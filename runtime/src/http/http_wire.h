// Pieces of HTTP/1.1 message syntax shared by the response parser (HttpPool) and the request
// parser (the event-loop HttpServer). Pure functions on bytes; unit-tested through both parsers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kstreams::runtime::http::internal {

// ASCII case-insensitive comparison / search (header names and tokens).
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);
[[nodiscard]] bool icontains(std::string_view haystack, std::string_view needle);
// Without leading and trailing spaces and tabs.
[[nodiscard]] std::string_view trim(std::string_view s);

// The value of a hex digit (either case), -1 for any other byte.
[[nodiscard]] int hex_digit(char c);
// Appends "%XX" (upper-case hex) for the byte `c`.
void append_percent_encoded(std::string* out, unsigned char c);

// A Content-Length value: digits only, at most 15 of them; false otherwise.
[[nodiscard]] bool parse_content_length(std::string_view value, size_t* out);

// A chunked body (RFC 9112 7.1) starting at `pos` of `in`. Returns the offset just past its last
// CRLF (trailer section included), or npos when more bytes are needed; sets *error (and returns
// npos) when the bytes are malformed. With `decoded`, the chunks' data is appended to it (only
// when the body is complete). With `announced`, the sizes of the chunks whose size line was read
// are added to it, complete or not (a receiver can refuse an oversized body before it arrives).
// Chunk extensions and trailer fields are ignored. Limits (an *error): a chunk-size line over
// 1 KiB (extensions included), a trailer section over 8 KiB. With `need`, when more bytes are
// needed, the input size below which the body cannot be complete (0 when unknown), so that a
// caller need not scan again before then.
[[nodiscard]] size_t chunked_end(std::string_view in, size_t pos, std::string* error, std::string* decoded = nullptr,
                                 size_t* announced = nullptr, size_t* need = nullptr);

}  // namespace kstreams::runtime::http::internal
