// Open MPI's handles (MPI_COMM_WORLD, MPI_BYTE, …) are macros over the addresses of globals,
// which Swift does not import; MPICH's are integer macros. These getters work with both.
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype cmpi_int64(void) { return MPI_INT64_T; }
static inline int cmpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int cmpi_any_tag(void) { return MPI_ANY_TAG; }
static inline MPI_Status *cmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int cmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int cmpi_success(void) { return MPI_SUCCESS; }
static inline int cmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

// MPI_Request is a pointer in Open MPI and an integer in MPICH, so no one Swift type holds
// both: Swift keeps a request as cmpi_request_size() bytes, which these two read and write.
static inline int cmpi_request_size(void) { return (int)sizeof(MPI_Request); }
static inline int cmpi_isend(const void *buffer, int count, int destination, int tag, void *request) {
  return MPI_Isend(buffer, count, MPI_BYTE, destination, tag, MPI_COMM_WORLD, (MPI_Request *)request);
}
static inline int cmpi_test(void *request, int *flag) {
  return MPI_Test((MPI_Request *)request, flag, MPI_STATUS_IGNORE);
}

#endif
