// Open MPI's handles (MPI_COMM_WORLD, MPI_BYTE, …) are macros over the addresses of globals,
// which Swift does not import; MPICH's are integer macros. These getters work with both.
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

#define OMPI_SKIP_MPICXX 1
#include <dlfcn.h>
#include <stddef.h>
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
static inline int cmpi_isend(const void *buffer, int count, int destination, int tag, MPI_Comm comm, void *request) {
  return MPI_Isend(buffer, count, MPI_BYTE, destination, tag, comm, (MPI_Request *)request);
}
static inline int cmpi_test(void *request, int *flag) {
  return MPI_Test((MPI_Request *)request, flag, MPI_STATUS_IGNORE);
}


// Fault tolerance (ULFM: MPIX_Comm_revoke, MPIX_Comm_shrink), looked up when the program runs:
// the pool is built against whichever MPI the system has (Debian's Open MPI 4.1 has no ULFM)
// and runs unchanged with Open MPI 5, whose libmpi.so.40 keeps the ABI, when that is the one
// loaded (mpirun --with-ft ulfm). Where the functions are missing, a lost rank ends the job.
typedef int (*cmpi_revoke_function)(MPI_Comm);
typedef int (*cmpi_shrink_function)(MPI_Comm, MPI_Comm *);
static inline cmpi_revoke_function cmpi_revoke_symbol(void) {
  return (cmpi_revoke_function)dlsym(RTLD_DEFAULT, "MPIX_Comm_revoke");
}
static inline cmpi_shrink_function cmpi_shrink_symbol(void) {
  return (cmpi_shrink_function)dlsym(RTLD_DEFAULT, "MPIX_Comm_shrink");
}
/// Whether the MPI library loaded has ULFM's revoke and shrink.
static inline int cmpi_fault_tolerant(void) { return cmpi_revoke_symbol() != NULL && cmpi_shrink_symbol() != NULL; }
static inline int cmpi_comm_revoke(MPI_Comm comm) {
  cmpi_revoke_function revoke = cmpi_revoke_symbol();
  return revoke ? revoke(comm) : MPI_ERR_UNSUPPORTED_OPERATION;
}
/// The communicator of `comm`'s live ranks (`comm` itself, with the error in `error`, on failure).
static inline MPI_Comm cmpi_comm_shrink(MPI_Comm comm, int *error) {
  cmpi_shrink_function shrink = cmpi_shrink_symbol();
  MPI_Comm shrunk = comm;
  *error = shrink ? shrink(comm, &shrunk) : MPI_ERR_UNSUPPORTED_OPERATION;
  return *error == MPI_SUCCESS ? shrunk : comm;
}
/// Writes the rank in `before` of each of `after`'s `size` ranks into `ranks`.
static inline int cmpi_ranks_in(MPI_Comm after, MPI_Comm before, int size, int *ranks) {
  MPI_Group groupAfter, groupBefore;
  int error = MPI_Comm_group(after, &groupAfter);
  if (error != MPI_SUCCESS) return error;
  error = MPI_Comm_group(before, &groupBefore);
  if (error == MPI_SUCCESS) {
    for (int rank = 0; rank < size; rank++) ranks[rank] = rank;
    error = MPI_Group_translate_ranks(groupAfter, size, ranks, groupBefore, ranks);
    MPI_Group_free(&groupBefore);
  }
  MPI_Group_free(&groupAfter);
  return error;
}
/// Frees `comm`, unless it is MPI_COMM_WORLD.
static inline void cmpi_comm_release(MPI_Comm comm) {
  if (comm != MPI_COMM_WORLD) MPI_Comm_free(&comm);
}
/// Makes this process's MPI_Finalize skip its closing fence over every process of
/// MPI_COMM_WORLD, dead ones included, where the library has the switch (Open MPI's
/// `ompi_async_mpi_finalize`): after a rank died, Open MPI 5.0.11's fence hung in about one
/// finalize in ten. The survivors synchronize among themselves first, which is the fence's job.
static inline int cmpi_skip_finalize_fence(void) {
  _Bool *skip = (_Bool *)dlsym(RTLD_DEFAULT, "ompi_async_mpi_finalize");
  if (skip == NULL) return 0;
  *skip = 1;
  return 1;
}
// ULFM's error classes: a peer failed (also "pending", for receives from any source), and a
// communicator revoked by another rank. MPICH defines them; with Open MPI's headers they are
// Open MPI 5's values (Open MPI 4.1 never returns them).
#if defined(MPIX_ERR_PROC_FAILED) && defined(MPIX_ERR_REVOKED)
static inline int cmpi_err_proc_failed(void) { return MPIX_ERR_PROC_FAILED; }
static inline int cmpi_err_revoked(void) { return MPIX_ERR_REVOKED; }
#else
static inline int cmpi_err_proc_failed(void) { return 75; }
static inline int cmpi_err_revoked(void) { return 77; }
#endif
#if defined(MPIX_ERR_PROC_FAILED_PENDING)
static inline int cmpi_err_proc_failed_pending(void) { return MPIX_ERR_PROC_FAILED_PENDING; }
#else
static inline int cmpi_err_proc_failed_pending(void) { return 76; }
#endif

#endif
