-- send_friend_request: 12 SQL queries (sqlite)
SELECT "calendarapp_authtoken"."id", "calendarapp_authtoken"."user_id", "calendarapp_authtoken"."created_at", "calendarapp_authtoken"."last_used_at", "calendarapp_authtoken"."expires_at", "calendarapp_authtoken"."revoked_at", "calendarapp_user"."id", "calendarapp_user"."password", "calendarapp_user"."last_login", "calendarapp_user"."is_superuser", "calendarapp_user"."username", "calendarapp_user"."first_name", "calendarapp_user"."last_name", "calendarapp_user"."email", "calendarapp_user"."is_staff", "calendarapp_user"."is_active", "calendarapp_user"."date_joined", "calendarapp_user"."display_name", "calendarapp_user"."timezone", "calendarapp_user"."avatar_url" FROM "calendarapp_authtoken" INNER JOIN "calendarapp_user" ON ("calendarapp_authtoken"."user_id" = "calendarapp_user"."id") WHERE "calendarapp_authtoken"."key_hash" = ? ORDER BY "calendarapp_authtoken"."id" ASC LIMIT ?;
SAVEPOINT "savepoint";
SELECT "calendarapp_user"."id", "calendarapp_user"."password", "calendarapp_user"."last_login", "calendarapp_user"."is_superuser", "calendarapp_user"."username", "calendarapp_user"."first_name", "calendarapp_user"."last_name", "calendarapp_user"."email", "calendarapp_user"."is_staff", "calendarapp_user"."is_active", "calendarapp_user"."date_joined", "calendarapp_user"."display_name", "calendarapp_user"."timezone", "calendarapp_user"."avatar_url" FROM "calendarapp_user" WHERE "calendarapp_user"."username" = ? ORDER BY "calendarapp_user"."id" ASC LIMIT ?;
SELECT ? AS "a" FROM "calendarapp_friendship" WHERE ("calendarapp_friendship"."friend_id" = ? AND "calendarapp_friendship"."user_id" = ?) LIMIT ?;
SELECT ? AS "a" FROM "calendarapp_friendrequest" WHERE ("calendarapp_friendrequest"."from_user_id" = ? AND "calendarapp_friendrequest"."status" = ? AND "calendarapp_friendrequest"."to_user_id" = ?) LIMIT ?;
SAVEPOINT "savepoint";
SELECT "calendarapp_friendrequest"."id", "calendarapp_friendrequest"."from_user_id", "calendarapp_friendrequest"."to_user_id", "calendarapp_friendrequest"."status", "calendarapp_friendrequest"."created_at" FROM "calendarapp_friendrequest" WHERE ("calendarapp_friendrequest"."from_user_id" = ? AND "calendarapp_friendrequest"."to_user_id" = ?) LIMIT ?;
SAVEPOINT "savepoint";
INSERT INTO "calendarapp_friendrequest" ("from_user_id", "to_user_id", "status", "created_at") VALUES (?, ?, ?, ?) RETURNING "calendarapp_friendrequest"."id";
RELEASE SAVEPOINT "savepoint";
RELEASE SAVEPOINT "savepoint";
RELEASE SAVEPOINT "savepoint";
