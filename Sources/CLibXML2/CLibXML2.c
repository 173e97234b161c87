#include "CLibXML2.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

// The parts of libxml2's interface used here, as its headers declare them (parser.h,
// xmlerror.h). They are declared here rather than included, because the headers are not on
// the compiler's default path and a package cannot add a system path for its dependents; the
// interface has kept these since libxml2 2.6, in both sonames (.so.2, and .so.16 from 2.14).
typedef struct {
  int domain;
  int code;
  char *message;
  int level;
  char *file;
  int line;
} cxml_error_prefix;  // xmlError's leading fields, in its order.

enum { XML_PARSE_NOERROR = 1 << 5, XML_PARSE_NOWARNING = 1 << 6, XML_PARSE_NONET = 1 << 11 };

static struct {
  void *(*read_file)(const char *url, const char *encoding, int options);
  void (*free_doc)(void *document);
  const cxml_error_prefix *(*last_error)(void);
  void (*reset_last_error)(void);
} libxml2;
static pthread_once_t loaded = PTHREAD_ONCE_INIT;

static void load(void) {
  void *library = dlopen("libxml2.so.2", RTLD_LAZY | RTLD_LOCAL);
  if (library == NULL) library = dlopen("libxml2.so.16", RTLD_LAZY | RTLD_LOCAL);
  if (library == NULL) return;
  // Kept loaded: libxml2 keeps global state, and ICU does not expect to be unloaded.
  *(void **)&libxml2.read_file = dlsym(library, "xmlReadFile");
  *(void **)&libxml2.free_doc = dlsym(library, "xmlFreeDoc");
  *(void **)&libxml2.last_error = dlsym(library, "xmlGetLastError");
  *(void **)&libxml2.reset_last_error = dlsym(library, "xmlResetLastError");
  if (!libxml2.free_doc || !libxml2.last_error || !libxml2.reset_last_error) libxml2.read_file = NULL;
}

int cxml_check(const char *path, int *line, int *code, char *message, size_t capacity) {
  pthread_once(&loaded, load);
  if (libxml2.read_file == NULL) return CXML_UNAVAILABLE;
  libxml2.reset_last_error();
  void *document = libxml2.read_file(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (document != NULL) {
    libxml2.free_doc(document);
    return CXML_WELL_FORMED;
  }
  const cxml_error_prefix *error = libxml2.last_error();
  if (error == NULL) return CXML_UNREADABLE;
  *line = error->line;
  *code = error->code;
  message[0] = 0;
  if (error->message) {
    strncpy(message, error->message, capacity - 1);
    message[capacity - 1] = 0;
  }
  return CXML_MALFORMED;
}
