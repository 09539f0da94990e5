// Who the caller acts for, and what that user may do in a project. Identity fails closed: a
// role mapped by project_members.db_role (an OID, so renames cannot redirect it) is that
// member; a role registered in application_roles (grant_access(role, act_for_users => true))
// acts for the user named by alert_grouping.user_id; every other role acts for nobody.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "values.hpp"

namespace ag::pg {

enum class ProjectRole { None = 0, Viewer = 1, Responder = 2, Admin = 3 };

// The user the current role acts for (evaluated as GetUserId(), i.e. the caller), or, while an
// API function runs its implementation as the tables' owner, the user its caller acted for.
std::optional<Uuid> acting_user();

// Projects where the acting user holds at least min_role.
std::vector<Uuid> member_projects(ProjectRole min_role);
ProjectRole parse_project_role(const std::string &name);

// Raises (as a PgError) unless the caller holds at least `needed` in the project: P0002 when
// the project is not visible to it, 42501 when it is visible but the role is too low.
// Returns the acting user.
std::optional<Uuid> require_project_role(const Uuid &project, ProjectRole needed,
                                         const char *action);

// While alive, acting_user() answers `user` for code running as the tables' owner.
class ActingUserScope {
 public:
  explicit ActingUserScope(std::optional<Uuid> user);
  ~ActingUserScope();
  ActingUserScope(const ActingUserScope &) = delete;
  ActingUserScope &operator=(const ActingUserScope &) = delete;

 private:
  std::optional<Uuid> saved_user_;
  bool saved_active_;
};

}  // namespace ag::pg
