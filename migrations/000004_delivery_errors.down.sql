DROP TABLE IF EXISTS delivery_errors;
