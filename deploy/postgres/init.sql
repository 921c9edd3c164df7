-- One database per service: services share no tables.
CREATE DATABASE wom_referrals;
CREATE DATABASE wom_rewards;
CREATE DATABASE wom_outreach;
CREATE DATABASE wom_feedback;
