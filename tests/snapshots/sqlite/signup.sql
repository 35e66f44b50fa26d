-- signup: 8 SQL queries (sqlite)
SELECT "calendarapp_authtoken"."id", "calendarapp_authtoken"."user_id", "calendarapp_authtoken"."created_at", "calendarapp_authtoken"."last_used_at", "calendarapp_authtoken"."expires_at", "calendarapp_authtoken"."revoked_at", "calendarapp_user"."id", "calendarapp_user"."password", "calendarapp_user"."last_login", "calendarapp_user"."is_superuser", "calendarapp_user"."username", "calendarapp_user"."first_name", "calendarapp_user"."last_name", "calendarapp_user"."email", "calendarapp_user"."is_staff", "calendarapp_user"."is_active", "calendarapp_user"."date_joined", "calendarapp_user"."display_name", "calendarapp_user"."timezone", "calendarapp_user"."avatar_url", "calendarapp_user"."username_key" FROM "calendarapp_authtoken" INNER JOIN "calendarapp_user" ON ("calendarapp_authtoken"."user_id" = "calendarapp_user"."id") WHERE "calendarapp_authtoken"."key_hash" = ? ORDER BY "calendarapp_authtoken"."id" ASC LIMIT ?;
SAVEPOINT "savepoint";
SELECT ? AS "a" FROM "calendarapp_user" WHERE "calendarapp_user"."username_key" = ? LIMIT ?;
SAVEPOINT "savepoint";
INSERT INTO "calendarapp_user" ("password", "last_login", "is_superuser", "username", "first_name", "last_name", "email", "is_staff", "is_active", "date_joined", "display_name", "timezone", "avatar_url", "username_key") VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?) RETURNING "calendarapp_user"."id";
RELEASE SAVEPOINT "savepoint";
INSERT INTO "calendarapp_authtoken" ("user_id", "key_hash", "created_at", "last_used_at", "expires_at", "revoked_at", "user_agent") VALUES (?, ?, ?, ?, ?, NULL, ?) RETURNING "calendarapp_authtoken"."id";
RELEASE SAVEPOINT "savepoint";
