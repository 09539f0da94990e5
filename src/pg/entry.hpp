// Declares a SQL-callable C function whose C++ body may throw: the exception is captured,
// every C++ object is destroyed, and only then is the PostgreSQL error raised.
#pragma once

#include "guard.hpp"

#define AG_FUNCTION(name)                                                                       \
  extern "C" {                                                                                  \
  PG_FUNCTION_INFO_V1(name);                                                                    \
  }                                                                                             \
  static Datum name##_body(FunctionCallInfo fcinfo);                                            \
  extern "C" Datum name(PG_FUNCTION_ARGS) {                                                     \
    Datum result = (Datum)0;                                                                    \
    ag::pg::PendingError error = ag::pg::capture_errors([&] { result = name##_body(fcinfo); }); \
    ag::pg::raise_pending(error);                                                               \
    return result;                                                                              \
  }                                                                                             \
  static Datum name##_body(FunctionCallInfo fcinfo)
