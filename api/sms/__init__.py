"""SMS to citizens: Alibaba Cloud SMS's SendSms (`aliyun.py`) and the desk's delivery of a seat's reply by SMS
(`delivery.py`)."""
from .aliyun import ALIYUN_SMS_ENDPOINT, AliyunSms, SmsError, SmsRefused, SmsUnavailable, rpc_signature
from .delivery import SmsReplyDelivery, SmsWording, SmsWordingError, mobile_number, ticket_mobile

__all__ = [
    "ALIYUN_SMS_ENDPOINT",
    "AliyunSms",
    "SmsError",
    "SmsRefused",
    "SmsReplyDelivery",
    "SmsUnavailable",
    "SmsWording",
    "SmsWordingError",
    "mobile_number",
    "rpc_signature",
    "ticket_mobile",
]
