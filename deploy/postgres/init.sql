-- One database and one login role per service: services share no tables, and one service's
-- credentials open no other service's database. The postgres image runs this file once, on an
-- empty data volume, with psql (docker-entrypoint-initdb.d); the passwords come from the
-- container's environment (docker-compose.yml passes them) and never appear in this file.
-- Each role owns its database, so the service's migrations create and change its tables.

\getenv referrals_password WOM_REFERRALS_DB_PASSWORD
\getenv rewards_password WOM_REWARDS_DB_PASSWORD
\getenv outreach_password WOM_OUTREACH_DB_PASSWORD
\getenv feedback_password WOM_FEEDBACK_DB_PASSWORD

CREATE ROLE wom_referrals LOGIN PASSWORD :'referrals_password';
CREATE DATABASE wom_referrals OWNER wom_referrals;
REVOKE ALL ON DATABASE wom_referrals FROM PUBLIC;

CREATE ROLE wom_rewards LOGIN PASSWORD :'rewards_password';
CREATE DATABASE wom_rewards OWNER wom_rewards;
REVOKE ALL ON DATABASE wom_rewards FROM PUBLIC;

CREATE ROLE wom_outreach LOGIN PASSWORD :'outreach_password';
CREATE DATABASE wom_outreach OWNER wom_outreach;
REVOKE ALL ON DATABASE wom_outreach FROM PUBLIC;

CREATE ROLE wom_feedback LOGIN PASSWORD :'feedback_password';
CREATE DATABASE wom_feedback OWNER wom_feedback;
REVOKE ALL ON DATABASE wom_feedback FROM PUBLIC;
