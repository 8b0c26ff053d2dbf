-- Cost as data grows (issue 14). The admin list filtered by role walks that role's members in
-- id order (the list's order) and stops after one page, instead of testing every user; the
-- index on the role alone is a prefix of this one.
CREATE INDEX user_roles_role_user ON user_roles (role_name, user_id);
DROP INDEX user_roles_role;
