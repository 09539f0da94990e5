#include "identity.hpp"

#include "guard.hpp"
#include "module.hpp"
#include "owner.hpp"
#include "spi_query.hpp"

namespace ag::pg {

namespace {

// Set by ActingUserScope while an API function runs its implementation as the owner.
bool override_active = false;
std::optional<Uuid> override_user;

SpiQuery mapped_users(
    "SELECT m.user_id FROM alert_grouping.project_members AS m "
    " WHERE m.db_role::pg_catalog.oid OPERATOR(pg_catalog.=) $1 "
    " GROUP BY m.user_id LIMIT 2",
    {OIDOID}, SpiQuery::References::LocalPlacements);

SpiQuery application_role(
    "SELECT FROM alert_grouping.application_roles AS r "
    " WHERE r.role::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
    {OIDOID}, SpiQuery::References::LocalPlacements);

SpiQuery member_role(
    "SELECT m.role FROM alert_grouping.project_members AS m "
    " WHERE m.project_id OPERATOR(pg_catalog.=) $1 AND m.user_id OPERATOR(pg_catalog.=) $2",
    {UUIDOID, UUIDOID}, SpiQuery::References::LocalPlacements);

SpiQuery user_projects(
    "SELECT m.project_id, m.role FROM alert_grouping.project_members AS m "
    " WHERE m.user_id OPERATOR(pg_catalog.=) $1",
    {UUIDOID}, SpiQuery::References::LocalPlacements);

SpiQuery project_exists(
    "SELECT FROM alert_grouping.projects AS p WHERE p.id OPERATOR(pg_catalog.=) $1", {UUIDOID},
    SpiQuery::References::LocalPlacements);

// Runs body connected to SPI as the tables' owner (the lookups read past row-level security,
// but only ever for the caller's own role and user).
template <typename F>
auto as_owner(F &&body) -> decltype(body()) {
  if (pg_call([] { return SPI_connect(); }) != SPI_OK_CONNECT)
    throw PgError(ERRCODE_INTERNAL_ERROR, "SPI_connect failed", "", "");
  struct Finish {
    ~Finish() { SPI_finish(); }
  } finish;
  ActAsOwner owner(alerts_owner());
  return body();
}

std::optional<Uuid> user_from_setting() {
  const char *value =
      pg_call([] { return GetConfigOption("alert_grouping.user_id", true, false); });
  if (value == nullptr || *value == '\0') return std::nullopt;
  std::string text(value);
  try {
    return Uuid::from_datum(
        pg_call([&] { return DirectFunctionCall1(uuid_in, CStringGetDatum(text.c_str())); }));
  } catch (const PgError &) {
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                  "alert_grouping.user_id must be a uuid, not \"" + text + "\"", "",
                  "Set it with SET LOCAL alert_grouping.user_id = '<uuid>'.");
  }
}

std::optional<Uuid> identity_of(Oid role) {
  return as_owner([&]() -> std::optional<Uuid> {
    uint64 n = mapped_users.run({ObjectIdGetDatum(role)});
    if (n == 1) {
      bool isnull;
      return Uuid::from_datum(spi_value(0, 1, &isnull));
    }
    if (n > 1) return std::nullopt;  // mapped to two users: ambiguous, acts for nobody
    if (application_role.run({ObjectIdGetDatum(role)}) == 0) return std::nullopt;
    return user_from_setting();
  });
}

}  // namespace

ProjectRole parse_project_role(const std::string &role) {
  if (role == "admin") return ProjectRole::Admin;
  if (role == "responder") return ProjectRole::Responder;
  if (role == "viewer") return ProjectRole::Viewer;
  return ProjectRole::None;
}

std::vector<Uuid> member_projects(ProjectRole min_role) {
  std::vector<Uuid> projects;
  std::optional<Uuid> user = acting_user();
  if (!user) return projects;
  as_owner([&] {
    uint64 n = user_projects.run({user->to_datum()});
    for (uint64 i = 0; i < n; i++) {
      bool isnull;
      if (parse_project_role(text_from_datum(spi_value(i, 2, &isnull))) >= min_role)
        projects.push_back(Uuid::from_datum(spi_value(i, 1, &isnull)));
    }
  });
  return projects;
}

static ProjectRole role_of(const Uuid &project, const Uuid &user) {
  return as_owner([&] {
    if (member_role.run({project.to_datum(), user.to_datum()}) != 1) return ProjectRole::None;
    bool isnull;
    return parse_project_role(text_from_datum(spi_value(0, 1, &isnull)));
  });
}

std::optional<Uuid> acting_user() {
  if (override_active) return override_user;
  return identity_of(GetUserId());
}

// Superusers, BYPASSRLS roles and the tables' owner are not limited by row-level security.
static bool role_bypasses_rls() {
  Oid role = GetUserId();
  return pg_call([&] { return superuser_arg(role) || has_bypassrls_privilege(role); }) ||
         role == alerts_owner();
}

std::optional<Uuid> require_project_role(const Uuid &project, ProjectRole needed,
                                         const char *action) {
  std::optional<Uuid> user = acting_user();
  if (role_bypasses_rls() && !override_active) {
    if (as_owner([&] { return project_exists.run({project.to_datum()}); }) == 1) return user;
    throw PgError(ERRCODE_NO_DATA_FOUND, "project " + project.text() + " not found", "", "");
  }
  ProjectRole held = user ? role_of(project, *user) : ProjectRole::None;
  if (held == ProjectRole::None)
    throw PgError(ERRCODE_NO_DATA_FOUND, "project " + project.text() + " not found", "",
                  "The project does not exist or you are not a member of it.");
  if (held < needed)
    throw PgError(
        ERRCODE_INSUFFICIENT_PRIVILEGE,
        std::string("permission denied to ") + action + " in project " + project.text(), "",
        needed == ProjectRole::Admin ? "This needs the admin role in the project."
                                     : "This needs the responder or admin role in the project.");
  return user;
}

ActingUserScope::ActingUserScope(std::optional<Uuid> user)
    : saved_user_(override_user), saved_active_(override_active) {
  override_user = std::move(user);
  override_active = true;
}

ActingUserScope::~ActingUserScope() {
  override_user = saved_user_;
  override_active = saved_active_;
}

}  // namespace ag::pg
