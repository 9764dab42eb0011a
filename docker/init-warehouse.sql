-- The warehouse database beside Dagster's own storage.
create database warehouse owner roomcal;
