#ifndef CLIBXML2_SHIM_H
#define CLIBXML2_SHIM_H
// Debian's libxml2 is built with ICU, so its encoding header pulls in the system's ICU
// headers, which clash with the copy Foundation carries. Nothing used here touches ICU (only
// the character-encoding handler's layout depends on it, and it is not used).
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#endif
