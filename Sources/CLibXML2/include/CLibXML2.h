#ifndef CLIBXML2_H
#define CLIBXML2_H

#include <stddef.h>

/// What `cxml_check` found.
enum cxml_result {
  /// libxml2 could not be loaded (it is not installed).
  CXML_UNAVAILABLE = -1,
  /// The file is well-formed XML.
  CXML_WELL_FORMED = 0,
  /// The file is not well-formed XML: `line`, `code` and `message` say where and why.
  CXML_MALFORMED = 1,
  /// libxml2 could not read the file and recorded no error.
  CXML_UNREADABLE = 2,
};

/// Parses the file at `path` with libxml2 (without network access or messages on standard
/// error) and says whether it is well-formed XML; when it is not, writes the line and code of
/// libxml2's first error, and its message (cut to `capacity` bytes, ending in a zero byte;
/// `capacity` must be at least 1).
///
/// libxml2 is loaded by its first call, not when the program starts: it brings ICU, lzma and
/// zlib with it (some 40 MB of mappings), which every process and every fork of a process
/// would otherwise carry for a message only a refused XML topology needs.
int cxml_check(const char *path, int *line, int *code, char *message, size_t capacity);

#endif
