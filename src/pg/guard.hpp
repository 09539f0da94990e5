// The C++/PostgreSQL boundary. PostgreSQL errors are longjmps that skip C++ destructors, and
// C++ exceptions must never unwind through PostgreSQL frames, so:
//  - pg_call() runs one PostgreSQL call from C++ and turns its error into a PgError exception;
//  - raise_pending() re-raises a captured error as a PostgreSQL error, called only from a frame
//    that holds no live C++ object.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "pg_headers.hpp"
#include "rule_error.hpp"

namespace ag::pg {

class PgError : public std::exception {
 public:
  PgError(int sqlerrcode, std::string message, std::string detail, std::string hint)
      : sqlerrcode_(sqlerrcode),
        message_(std::move(message)),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}
  const char *what() const noexcept override { return message_.c_str(); }
  int sqlerrcode() const { return sqlerrcode_; }
  const std::string &detail() const { return detail_; }
  const std::string &hint() const { return hint_; }

 private:
  int sqlerrcode_;
  std::string message_, detail_, hint_;
};

[[noreturn]] void throw_current_pg_error(MemoryContext context);

// Runs f (which calls PostgreSQL functions and holds no RAII object) under its own
// PG_exception_stack; a PostgreSQL error becomes a PgError.
template <typename F>
auto pg_call(F &&f) -> decltype(f()) {
  MemoryContext context = CurrentMemoryContext;
  sigjmp_buf *saved_stack = PG_exception_stack;
  ErrorContextCallback *saved_context = error_context_stack;
  sigjmp_buf local;
  if (sigsetjmp(local, 0) != 0) {
    PG_exception_stack = saved_stack;
    error_context_stack = saved_context;
    throw_current_pg_error(context);
  }
  PG_exception_stack = &local;
  // Restores the caller's stack however f ends: returning, or throwing a C++ exception (a
  // later PostgreSQL error must never jump into this dead frame).
  struct Restore {
    sigjmp_buf *stack;
    ErrorContextCallback *context;
    ~Restore() {
      PG_exception_stack = stack;
      error_context_stack = context;
    }
  } restore{saved_stack, saved_context};
  return f();
}

// An error captured from C++ code, kept in palloc'd memory so it can be raised after every
// C++ object of the failing code is gone.
struct PendingError {
  int sqlerrcode = 0;
  const char *message = nullptr;
  const char *detail = nullptr;
  const char *hint = nullptr;
  bool pending() const { return message != nullptr; }
};

// Copies text into the current memory context without raising: a catch handler must not
// longjmp, so when memory runs out the copy is the static fallback.
char *copy_for_error(const char *text, const char *fallback);

// Runs body, catching every C++ exception into the returned PendingError.
template <typename F>
PendingError capture_errors(F &&body) {
  PendingError pending;
  auto keep = [](const std::string &s) {
    return s.empty() ? nullptr : copy_for_error(s.c_str(), nullptr);
  };
  try {
    body();
  } catch (const PgError &e) {
    pending = {e.sqlerrcode(), copy_for_error(e.what(), "out of memory"), keep(e.detail()),
               keep(e.hint())};
  } catch (const RuleError &e) {
    pending = {ERRCODE_INVALID_PARAMETER_VALUE,
               copy_for_error((std::string("invalid grouping rule: ") + e.what()).c_str(),
                              "invalid grouping rule"),
               nullptr, nullptr};
  } catch (const std::bad_alloc &) {
    pending = {ERRCODE_OUT_OF_MEMORY, copy_for_error("out of memory", "out of memory"), nullptr,
               nullptr};
  } catch (const std::exception &e) {
    pending = {ERRCODE_INTERNAL_ERROR, copy_for_error(e.what(), "internal error"), nullptr,
               nullptr};
  } catch (...) {
    pending = {ERRCODE_INTERNAL_ERROR, copy_for_error("unexpected C++ exception", "internal error"),
               nullptr, nullptr};
  }
  return pending;
}

// Raises the error, if any (call with no live C++ object in the calling frame).
void raise_pending(const PendingError &error);

}  // namespace ag::pg
